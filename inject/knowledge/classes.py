"""The pipeline's knowledge step: names -> WordNet synsets -> weighted text + hierarchy descriptors.

What ``inject`` does with plain names by default (``descriptors="knowledge"``): resolve every seen and
new name to a WordNet synset, describe both sides by the name, the synset's lemmas and gloss (plus any
user descriptions) and its ancestor bag, choose the sources' weights by leave-classes-out rehearsal
on the seen rows alone, and combine them into one descriptor per class for the mapper.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from ..semantics import TextEncoder
from .describe import DEFAULT_SOURCES, combine, describe_classes
from .resolve import Resolution
from .weights import rehearse

NEAREST = 3  # seen classes shown per new class by --explain


@dataclass(frozen=True)
class KnownClasses:
    """Combined descriptors of both sides and how they were made.

    Attributes:
        seen: ``[C, E]``; new: ``[K, E]`` (unit rows).
        resolutions: the ``K`` new names' WordNet resolutions.
        weights: source -> weight (sums to 1), chosen on the seen rows.
        seen_wnids: the ``C`` seen names' synsets (``None`` where unresolved).
        power: ``conse``'s neighbour power, chosen with the weights.
        rehearsal_top1: the chosen candidate's leave-classes-out score.
    """

    seen: torch.Tensor
    new: torch.Tensor
    resolutions: list[Resolution]
    weights: dict[str, float]
    power: float
    rehearsal_top1: float
    seen_wnids: tuple[str | None, ...] = ()

    def record(self) -> dict[str, Any]:
        """JSON-ready summary for the output's ``inject`` record: weights and each new name's synset."""
        return {"descriptors": "knowledge", "source_weights": self.weights,
                "rehearsal_top1": round(self.rehearsal_top1, 4),
                "synsets": {r.name: [r.wnid, r.how] for r in self.resolutions}}

    def explain(self, seen_names: Sequence[str]) -> list[dict[str, Any]]:
        """Per new class: name, synset, how it was found, gloss, lemmas, the sense set aside (if any) and the nearest
        seen classes by descriptor."""
        nearest = (self.new @ self.seen.T).topk(min(NEAREST, len(seen_names)), dim=1).indices
        return [{"name": r.name, "wnid": r.wnid, "how": r.how, "gloss": r.gloss, "lemmas": list(r.lemmas),
                 "rejected": r.rejected, "nearest_seen": [seen_names[i] for i in row.tolist()]}
                for r, row in zip(self.resolutions, nearest)]


def known_class_descriptors(
    seen_names: Sequence[str],
    new_names: Sequence[str],
    seen_rows: torch.Tensor,
    encoder: TextEncoder,
    descriptions: Mapping[str, Sequence[str]] | None = None,
    progress: bool = False,
) -> KnownClasses:
    """Descriptors of ``C`` seen and ``K`` new classes from names, WordNet and user ``descriptions``.

    ``seen_rows`` ``[C, R]``: the head's ``[W | b]``; the source weights (and ``conse``'s neighbour power)
    are chosen on them by rehearsal (``inject.knowledge.weights``), whatever mapper then predicts the new rows.
    """
    described = describe_classes(seen_names, new_names, encoder, descriptions, DEFAULT_SOURCES, progress)
    chosen = rehearse(described, seen_rows)
    seen, new = combine(described, chosen.weights)
    return KnownClasses(seen, new, described.new_resolutions, chosen.weights, chosen.power, chosen.score,
                        tuple(r.wnid for r in described.seen_resolutions))
