"""Label conventions of timm folders, kept from input to output.

A timm ``config.json`` names its classes in one of three ways, and transformers' timm wrapper shows
them accordingly in ``pipeline(...)``:

* ``ids``: ``label_names`` are WordNet ids (``n01440764``) and ``label_descriptions`` map each to a
  readable text; the pipeline shows the ids. A new class gets its synset's id when its name named the
  synset itself (not only its head noun: "Crested Auklet" is not the synset "auklet") and no other
  class has that id; else the name is its id. Its description is its name.
* ``names``: ``label_names`` are plain names; new classes get their names.
* ``none``: no labels. timm and transformers then take the ImageNet subset that the class count implies
  (transformers shows its readable descriptions, ``tench, Tinca tinca``); the output writes those
  readable names out, so a wider head never falls back to ``LABEL_1003``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

WNID = re.compile(r"n\d{8}")
OWN_SYNSET = ("wnid", "exact", "normalised")  # resolutions that name the synset itself


def config_labels(config: Mapping[str, Any]) -> tuple[list[str] | None, dict[str, str]]:
    """(``label_names``, ``label_descriptions``) of a timm config; top-level keys win over ``pretrained_cfg``'s, as in timm."""
    pretrained = config.get("pretrained_cfg") or {}
    names = config.get("label_names", pretrained.get("label_names"))
    descriptions = config.get("label_descriptions", pretrained.get("label_descriptions")) or {}
    if isinstance(names, dict):  # timm accepts {index: name}
        names = [names[k] for k in sorted(names, key=int)]
    return (None if names is None else [str(n) for n in names]), dict(descriptions)


def imagenet_descriptions(num_classes: int) -> list[str] | None:
    """The readable ImageNet labels transformers shows for a ``num_classes``-way head without labels, if any."""
    from timm.data import ImageNetInfo, infer_imagenet_subset

    subset = infer_imagenet_subset({"num_classes": num_classes})
    return None if subset is None else list(ImageNetInfo(subset).label_descriptions())


@dataclass(frozen=True)
class LabelConvention:
    """How a folder names its classes: ``kind`` is ``ids``, ``names`` or ``none``; ``descriptions``: id -> text."""

    kind: str
    descriptions: dict[str, str]

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> "LabelConvention":
        names, descriptions = config_labels(config)
        if names is None:
            return cls("none", {})
        return cls("ids" if names and all(WNID.fullmatch(n) for n in names) else "names", descriptions)

    def output_labels(
        self, seen: Sequence[str], new_names: Sequence[str], synsets: Mapping[str, Sequence[Any]]
    ) -> tuple[list[str], dict[str, str]]:
        """(``label_names``, ``label_descriptions``) for the output's ``C + K`` classes.

        ``seen``: the input's own labels (for ``none``, the readable ImageNet ones); ``synsets``: the
        injection record's ``{new name: [wnid or None, how]}``.
        """
        if self.kind != "ids":
            return [*seen, *new_names], dict(self.descriptions)
        ids, taken = [], set(seen)
        for name in new_names:
            wnid, how = (list(synsets.get(name) or []) + [None, None])[:2]
            ids.append(wnid if wnid and how in OWN_SYNSET and wnid not in taken else name)
            taken.add(ids[-1])
        return [*seen, *ids], {**self.descriptions, **dict(zip(ids, new_names))}
