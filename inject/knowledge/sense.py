"""The sense check of head-noun matches: a sense of another kind than the name's own text reads is worse than none.

``Crested Auklet`` resolves by its head noun to *auklet*, and is one; ``chocolate lab`` (a dog) resolves to
*lab*, "a workplace for the conduct of scientific research". The check reads the kind of thing the name's text
is (its prompt ensemble, averaged with the user's descriptions if any) against plain-word categories
(``CATEGORIES``: an animal, a plant, a man-made object, ...) and the kind the synset is (the categories among
its WordNet ancestors). When the text prefers another category by more than the ``threshold`` (in cosine), the
match disagrees plainly: the next candidate sense of the head noun whose kind agrees is taken instead, and when
none does the name is described by its text alone (``how`` is ``"text only"``, the rejected synset kept in
``Resolution.rejected``).

The threshold is ``MARGIN`` or, if larger, what the encoder shows on names whose sense is right: the
``SEEN_QUANTILE`` of the seen classes' own disagreements (0.302 for the default encoder and ImageNet-1K's
names). On 6,320 ImageNet-21K lemmas of two or more words read as head-noun matches
(``python -m benchmarks.senses``) it sets aside 0.5% of the right senses and 7.7% of the senses of another
kind, and no CUB-50 or Flowers-102 name. It cannot see what the encoder does not know: all-MiniLM-L6-v2
reads "sugar glider" as a kind of hang glider, so that name keeps the aircraft, even with the description
"a small gliding possum"; "chocolate lab: a brown Labrador retriever dog" is set aside.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from ..semantics import TextEncoder, encode_names, encode_texts
from .resolve import Resolution
from .wordnet import load_wordnet

CATEGORIES = {  # a kind of thing in plain words -> WordNet synsets whose descendants are that kind
    "an animal": ("n00015388",),
    "a plant, flower or tree": ("n00017222", "n13086908"),  # plant; plant part
    "a mushroom or fungus": ("n12992868", "n07734744"),  # fungus; mushroom (the food)
    "a machine, vehicle, tool or other man-made object": ("n00021939",),  # artifact
    "a building or other structure": ("n04341686",),  # structure, construction
    "clothing": ("n03051540", "n02728440"),  # clothing; apparel
    "a person": ("n00007846",),
    "food or drink": ("n00021265", "n07555863", "n07881800"),  # food, nutrient; food, solid food; beverage
    "a place": ("n00027167",),  # location
    "a landscape, rock or other natural object": ("n00019128", "n09287968"),  # natural object; geological formation
}
MARGIN = 0.2  # the least disagreement that counts (in cosine)
SEEN_QUANTILE = 0.99  # ... and it must exceed this share of the seen classes' own disagreements
_THRESHOLDS: dict[tuple, float] = {}


@lru_cache(maxsize=4096)
def kinds(wnid: str) -> frozenset[int]:
    """Indices of the ``CATEGORIES`` that ``wnid`` falls under (empty: none of them, e.g. an abstraction)."""
    ancestors = load_wordnet().ancestors(wnid)
    return frozenset(i for i, roots in enumerate(CATEGORIES.values()) if any(r in ancestors for r in roots))


def disagreement(scores: torch.Tensor, wnid: str) -> float:
    """How much more the text reads as its best category than as the synset's (``scores`` ``[len(CATEGORIES)]``
    cosines of the text to each category); 0 for a synset of no listed kind (nothing to disagree with)."""
    own = kinds(wnid)
    return float(scores.max() - scores[sorted(own)].max()) if own else 0.0


def text_scores(
    names: Sequence[str], descriptions: Mapping[str, Sequence[str]], encoder: TextEncoder
) -> torch.Tensor:
    """``[N, len(CATEGORIES)]``: cosines of each name's own text (its prompt ensemble, averaged with its
    descriptions' embeddings when it has any) to the plain-word categories."""
    text = encode_names(list(names), encoder)
    for i, name in enumerate(names):
        if descriptions.get(name):
            text[i] = F.normalize(text[i] + F.normalize(encode_texts(list(descriptions[name]), encoder).mean(0), dim=0), dim=0)
    return F.normalize(text, dim=1) @ encode_texts(list(CATEGORIES), encoder).T


def threshold(seen: Sequence[Resolution], encoder: TextEncoder) -> float:
    """The disagreement above which a sense is set aside: ``MARGIN``, or more where the encoder reads the seen
    classes' own (correctly resolved) names as disagreeing with their synsets more often (``SEEN_QUANTILE``).
    Remembered per encoder and seen set (a process injecting into one model pays for it once)."""
    known = tuple((r.name, r.wnid) for r in seen if r.wnid is not None)
    if not known:
        return MARGIN
    key = (encoder.name, known)
    if key not in _THRESHOLDS:
        scores = text_scores([name for name, _ in known], {}, encoder)
        own = torch.tensor([disagreement(row, wnid) for row, (_, wnid) in zip(scores, known)])
        _THRESHOLDS.clear()  # one seen set at a time: the key holds every seen name
        _THRESHOLDS[key] = max(MARGIN, float(own.quantile(SEEN_QUANTILE)))
    return _THRESHOLDS[key]


def _agreeing(resolution: Resolution, scores: torch.Tensor, limit: float) -> Resolution:
    """``resolution`` if its sense agrees with the text; else the first alternative sense of a listed kind that
    agrees; else text only."""
    wn = load_wordnet()
    for wnid in (resolution.wnid, *resolution.alternatives):
        if disagreement(scores, wnid) <= limit and (wnid == resolution.wnid or kinds(wnid)):
            if wnid == resolution.wnid:
                return resolution
            others = tuple(w for w in (resolution.wnid, *resolution.alternatives) if w != wnid)
            return replace(resolution, wnid=wnid, gloss=wn.gloss(wnid), lemmas=wn.lemmas(wnid), alternatives=others,
                           rejected=resolution.wnid)
    return Resolution(resolution.name, None, "text only", rejected=resolution.wnid)


def check_senses(
    resolutions: Sequence[Resolution], seen: Sequence[Resolution], descriptions: Mapping[str, Sequence[str]],
    encoder: TextEncoder,
) -> list[Resolution]:
    """``resolutions`` (new names) with every head-noun match whose sense plainly disagrees with the name's text
    replaced (see the module doc); ``seen``: the seen names' resolutions, which set the ``threshold``."""
    checked = [i for i, r in enumerate(resolutions) if r.how == "head noun" and r.wnid is not None]
    if not checked:
        return list(resolutions)
    scores = text_scores([resolutions[i].name for i in checked], descriptions, encoder)
    limit = threshold(seen, encoder)
    out = list(resolutions)
    for row, i in enumerate(checked):
        out[i] = _agreeing(resolutions[i], scores[row], limit)
    return out
