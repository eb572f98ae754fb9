"""A model card (``README.md``) for every output folder, in the Hub's conventions.

A YAML header (``library_name``, ``pipeline_tag: image-classification``, ``tags``, ``base_model`` where the
input names one), then what was injected and how: each new class with its synset, gloss and how its
name was resolved and its image-free expected top-1; the classes expected to work poorly; how the rows and
the offset were made; per-class leave-photos-out accuracy when photos were given; and what to expect from
names alone.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .hub import hub_id

EXPECTATION = (
    "Rows predicted from names alone work well for everyday objects near the model's own classes and poorly for "
    "fine-grained species it never learned: on a real ImageNet EfficientNet-Lite0, top-1 among the new classes was "
    "0.355 for 200 held-out ImageNet classes, 0.124 for 50 CUB bird species and 0.033 for 102 Oxford flowers "
    "(chance 0.010); one photo per class raised CUB to 0.449 (inject-classes' docs/results.md, measured by its "
    "benchmark suite). Check the new classes on photos of your own before relying on them."
)


def _base_model(source: str, config: Mapping[str, Any]) -> str | None:
    """The Hub id the model came from: the source itself, else the one its config records."""
    pretrained = config.get("pretrained_cfg") or {}
    for candidate in (source, pretrained.get("hf_hub_id"), config.get("_name_or_path")):
        if isinstance(candidate, str) and hub_id(candidate):
            return hub_id(candidate)[0]
    return None


def _header(library: str, base_model: str | None) -> list[str]:
    lines = ["---", f"library_name: {library}", "pipeline_tag: image-classification", "tags:",
             "- image-classification", f"- {library}", "- inject-classes", "- zero-shot"]
    return lines + ([f"base_model: {base_model}"] if base_model else []) + ["---", ""]


def _class_rows(new_labels: Sequence[str], new_names: Sequence[str], record: Mapping[str, Any]) -> list[str]:
    """One table row per injected class: label, name, synset, how it was found, gloss (and photo figures)."""
    from ..knowledge.wordnet import load_wordnet

    wn, synsets = load_wordnet(), record.get("synsets", {})
    photos = (record.get("photos") or {}).get("per_class", {})
    estimates = record.get("classes") or {}
    rows = ["| output label | name | synset | found by | gloss | expected top-1, image-free | photos, leave-photos-out top-1 |",
            "|---|---|---|---|---|---|---|"]
    for label, name in zip(new_labels, new_names):
        wnid, how = (list(synsets.get(name) or []) + [None, None])[:2]
        gloss = wn.gloss(wnid).replace("|", "/") if wnid else ""
        expected = estimates.get(name, {}).get("expected_top1")
        held = photos.get(name, {})
        shot = f"{held['photos']}, {held['held_out_top1']:.2f}" if held.get("held_out_top1") is not None else (
            f"{held['photos']}" if held else "none")
        rows.append(f"| {label} | {name} | {wnid or 'not in WordNet'} | {how or 'descriptor'} | {gloss} | "
                    f"{'' if expected is None else f'{expected:.2f}'} | {shot} |")
    return rows


def _warnings(record: Mapping[str, Any]) -> list[str]:
    """The classes ``inject.trust`` expects near chance or read oddly, one line each with the remedy."""
    found = record.get("warnings") or []
    if not found:
        return []
    return ["## Classes expected to work poorly", "",
            "Flagged when the model was extended, before any photo (each with what would help):", "",
            *[f"- {item['message']}" for item in found], ""]


def _method(record: Mapping[str, Any]) -> list[str]:
    calibration = record.get("calibration", {})
    weights = record.get("source_weights")
    lines = [f"- Rows: mapper `{record.get('mapper')}` on descriptors `{record.get('descriptors', 'precomputed')}`"
             + (f" (source weights {weights}, chosen by rehearsal on the seen classes)" if weights else "")
             + f", text encoder `{record.get('encoder')}`.",
             f"- Offset of the new classes' biases: {record.get('gamma', 0.0):.3f}, chosen by `{calibration.get('method', 'fixed')}`.",
             "- The original classes' weights and biases are copied bit-exactly; their logits do not change."]
    if record.get("photos"):
        lines.append(f"- Photos: {record['photos'].get('photos')} photos of new classes shaped the rows and the offset.")
    if record.get("unlabelled"):
        pile = record["unlabelled"]
        lines.append(f"- Unsorted photos: {pile['photos']} unlabelled photos ({pile['left_to_seen']} left to the "
                     "original classes) adapted the new rows and chose the offset.")
    lines.append("- Expected top-1 (the table above): estimated per class from a rehearsal on the original classes "
                 "(hidden, re-predicted, scored on virtual features), not measured on photos.")
    return lines


def model_card(
    library: str, source: str, config: Mapping[str, Any], label_names: Sequence[str],
    new_names: Sequence[str], record: Mapping[str, Any],
) -> str:
    """The ``README.md`` text for a folder whose last ``len(new_names)`` labels were injected."""
    new_labels = list(label_names)[len(label_names) - len(new_names):]
    seen = len(label_names) - len(new_names)
    lines = _header(library, _base_model(source, config)) + [
        f"# {source} with {len(new_names)} injected classes", "",
        f"This is `{source}` ({seen} classes) with {len(new_names)} new classes added by "
        f"inject-classes {record.get('version', '')}, "
        "from their names, without training the network. It loads and runs exactly as the original does.", "",
        "## Injected classes", "", *_class_rows(new_labels, new_names, record), "",
        *_warnings(record),
        "## How the new rows were made", "", *_method(record), "",
        "## What to expect", "", EXPECTATION, "",
    ]
    return "\n".join(lines)
