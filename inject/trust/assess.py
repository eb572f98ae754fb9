"""Assess an injection: the per-class estimate, the warnings, and what the output record and the CLI show of them.

``assess`` runs inside every ``inject()`` / ``inject-classes`` call, after the rows are written, from the model
being extended (its seen rows and descriptors, the new rows and descriptors, the offset); no photo.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch

from ..knowledge.wordnet import load_wordnet
from .estimate import Estimate, estimate_classes
from .rehearsal import photo_model
from .signals import SIGNALS
from .warnings import FAR, ClassFacts, class_warnings

MIN_SEEN = 5  # a rehearsal needs a few seen classes to hide
WEAKEST = 5  # classes in the CLI's table


@dataclass(frozen=True)
class Trust:
    """The assessment: ``per_class`` (name -> record entry), ``warnings`` (``inject.trust.warnings``), ``summary``."""

    per_class: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The output record's keys: ``classes`` (per class: synset, how, expected_top1, expected_recognised,
        near_chance[, held_out_top1]), ``warnings`` (a list of dicts) and ``trust`` (the summary)."""
        return {"classes": self.per_class, "warnings": self.warnings, "trust": self.summary}


def class_facts(explained: Sequence[Mapping[str, Any]], names: Sequence[str], seen_names: Sequence[str],
                seen_wnids: Sequence[str | None]) -> list[ClassFacts]:
    """One ``ClassFacts`` per new class from the knowledge step's ``explained`` entries (names alone without)."""
    if not explained:
        return [ClassFacts(name) for name in names]
    wn, seen_of = load_wordnet(), {w: n for n, w in zip(seen_names, seen_wnids) if w is not None}
    return [ClassFacts(item["name"], item["wnid"], item["how"], (item.get("lemmas") or ("",))[0], item["gloss"],
                       item.get("rejected"), item["wnid"] is not None and wn.is_instance(item["wnid"]),
                       seen_of.get(item["wnid"]), tuple(item.get("nearest_seen", ()))) for item in explained]


def _per_class(facts: Sequence[ClassFacts], found: Estimate, held_out: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    entries = {}
    for k, item in enumerate(facts):
        entry = {"synset": item.wnid, "how": item.how, "expected_top1": round(float(found.expected_top1[k]), 4),
                 "expected_recognised": round(float(found.expected_recognised[k]), 4),
                 "near_chance": round(float(found.near_chance[k]), 4)}
        if held_out.get(item.name, {}).get("held_out_top1") is not None:
            entry["held_out_top1"] = held_out[item.name]["held_out_top1"]
        entries[item.name] = entry
    return entries


def assess(
    seen_names: Sequence[str], new_names: Sequence[str], seen_descriptors: torch.Tensor, new_descriptors: torch.Tensor,
    seen_rows: torch.Tensor, new_weight: torch.Tensor, new_bias: torch.Tensor | None, gamma: float, power: float = 1.0,
    explained: Sequence[Mapping[str, Any]] = (), seen_wnids: Sequence[str | None] = (), scale: float | None = None,
    held_out: Mapping[str, Any] | None = None,
) -> Trust:
    """The estimate and warnings for ``K`` new classes (``seen_rows`` ``[C, D + 1]``, ``new_weight`` ``[K, D]``).

    ``explained``: the knowledge step's per-class entries (synset, how, lemmas, gloss, rejected, nearest seen);
    ``seen_wnids``: the seen classes' synsets; ``scale``: the virtual photo scale if the offset chose one;
    ``held_out``: the photos record's per-class entries, whose leave-photos-out top-1 is kept beside the estimate.
    """
    if seen_rows.shape[0] < MIN_SEEN:
        return Trust(summary={"skipped": f"a head of {seen_rows.shape[0]} classes is too small to rehearse on"})
    width = new_weight.shape[1]
    new_bias = torch.zeros(new_weight.shape[0]) if new_bias is None else new_bias.float()
    facts = class_facts(explained, new_names, seen_names, seen_wnids)
    seen_index = {w: i for i, w in enumerate(seen_wnids) if w is not None}
    duplicates = [seen_index.get(item.wnid) if item.wnid is not None else None for item in facts]
    photos = photo_model(seen_rows[:, :width].float(), seen_rows[:, width].float(), scale)
    found = estimate_classes(seen_descriptors.float(), seen_rows.float(), new_descriptors.float(), new_weight.float(),
                             new_bias, gamma, power, photos, duplicates)
    far_below = float(found.rehearsed[:, SIGNALS.index("nearest_description")].quantile(FAR))
    wn = load_wordnet()
    rejected = {item.rejected: (wn.lemmas(item.rejected)[0], wn.gloss(item.rejected)) for item in facts if item.rejected}
    warned = class_warnings(facts, found, found.others, far_below, rejected)
    summary = {"chance": round(found.chance, 6), "expected_top1_mean": round(float(found.expected_top1.mean()), 4),
               "expected_recognised_mean": round(float(found.expected_recognised.mean()), 4),
               "near_chance_classes": int((found.near_chance >= 0.5).sum()), "rehearsed_classes": len(found.rehearsed)}
    return Trust(_per_class(facts, found, held_out or {}), warned, summary)


def weakest_table(record: Mapping[str, Any], count: int = WEAKEST) -> list[str]:
    """The CLI summary's table: the ``count`` classes with the lowest expected top-1 (from the output record)."""
    per_class, summary = record.get("classes") or {}, record.get("trust") or {}
    if len(per_class) < 2:  # one new class is top-1 among the new ones by definition
        return []
    rows = sorted(per_class.items(), key=lambda item: item[1]["expected_top1"])[:count]
    width = max(len(name) for name, _ in rows)
    lines = [f"expected top-1 among the {len(per_class)} new classes (image-free estimate; chance "
             f"{summary.get('chance', 0):.3f}), mean {summary.get('expected_top1_mean', 0):.2f}; weakest:"]
    lines += [f"  {name:<{width}}  {entry['expected_top1']:.2f}  recognised {entry['expected_recognised']:.2f}"
              f"  near chance {entry['near_chance']:.2f}" for name, entry in rows]
    return lines
