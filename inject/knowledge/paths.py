"""Hierarchical top-k: each prediction of an injected model with its WordNet hypernym path.

An injected model's labels are its seen names (ImageNet-1K's, say) and the new lines (``giant panda
(n02510455)`` for a named set). ``label_wnids`` maps every label to its synset once; ``hierarchical_topk``
turns logits into the ``k`` best classes per image, each with the synset path from ``entity`` down.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from .context import _imagenet_index
from .resolve import resolve_names
from .wordnet import load_wordnet


def label_wnids(label_names: Sequence[str]) -> list[str | None]:
    """The synset of each of ``N`` labels: ImageNet-1K labels by their wnid, others resolved (in the context
    of those), ``None`` where WordNet has no such noun."""
    index = _imagenet_index()
    known = [index.get(name) for name in label_names]
    others = [name for name, wnid in zip(label_names, known) if wnid is None]
    resolved = iter(resolve_names(others, context=[w for w in known if w is not None]))
    return [wnid if wnid is not None else next(resolved).wnid for wnid in known]


def synset_path(wnid: str) -> list[str]:
    """wnids from the root (``entity``) down to ``wnid``, along the first hypernym of each synset."""
    wn, path = load_wordnet(), [wnid]
    while wn.hypernyms(path[-1]):
        path.append(wn.hypernyms(path[-1])[0])
    return path[::-1]


def hierarchical_topk(
    logits: torch.Tensor, label_names: Sequence[str], k: int = 5, wnids: Sequence[str | None] | None = None
) -> list[list[dict[str, Any]]]:
    """Per image (``logits`` ``[N, C]``, ``C`` labels): its ``k`` best classes, best first, each
    ``{"index", "label", "score", "wnid", "path"}`` with ``path`` the first lemma of each synset from the
    root down (``[]`` for a label without a synset). ``wnids``: ``label_wnids(label_names)``, if known."""
    wn = load_wordnet()
    wnids = label_wnids(label_names) if wnids is None else wnids
    top = logits.float().topk(min(k, logits.shape[1]), dim=1)

    def entry(index: int, score: float) -> dict[str, Any]:
        wnid = wnids[index]
        path = [wn.lemmas(w)[0] for w in synset_path(wnid)] if wnid is not None else []
        return {"index": index, "label": label_names[index], "score": score, "wnid": wnid, "path": path}

    return [[entry(i, s) for i, s in zip(row.tolist(), scores.tolist())] for row, scores in zip(top.indices, top.values)]
