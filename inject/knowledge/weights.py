"""Choose the descriptor sources' weights and ConSE's neighbour power by rehearsal on the seen classes only.

Several seeded splits hide a fifth of the seen classes (``heldout_split``). For every candidate (source
weights on a grid over the simplex, every source at least one step, times a neighbour power) the
``conse`` mapper predicts the hidden classes' rows from the kept ones, and the candidate scores how
often a hidden class's true row is nearest (cosine) to its own predicted row among all hidden
predictions: zero-shot top-1 with the true rows standing in for photos, averaged over splits. The
new classes and photos are never looked at.

Every source keeps at least one step of weight: the rehearsal scores are close to flat across
weightings, and a source the rehearsal would drop still carries what the user wrote (descriptions
ride on the text sources). Larger neighbour powers let the nearest seen classes dominate; the rehearsal
picked 2 over ConSE's 1 on most B1 folds (docs/results.md).

The rehearsal is exact and fast for ``conse``: the cosine of two combined descriptors is the weighted
mean of the per-source cosines (``describe.combine``), so each split's per-source similarity matrices are
computed once and every candidate is a weighted sum of them.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..calibration.rules import heldout_split
from ..mappers.conse import neighbour_mean
from .describe import Described

POWERS = (1.0, 2.0, 4.0)
TOP_K = 10  # conse's default


@dataclass(frozen=True)
class Rehearsal:
    """The chosen source ``weights`` (summing to 1) and neighbour ``power``, their ``score``, and every
    candidate's score (``table``: (weights in source order, power) -> score)."""

    weights: dict[str, float]
    power: float
    score: float
    table: dict[tuple[tuple[float, ...], float], float]


def simplex_grid(count: int, steps: int, floor: int = 1) -> list[tuple[float, ...]]:
    """Every weighting of ``count`` sources in multiples of ``1 / steps`` summing to 1, each at least ``floor`` steps."""
    return [tuple(c / steps for c in combo) for combo in itertools.product(range(floor, steps + 1), repeat=count)
            if sum(combo) == steps]


def top1(predicted: torch.Tensor, true: torch.Tensor) -> float:
    """How often row ``i`` of ``true`` ``[H, R]`` is nearest (cosine) to row ``i`` of ``predicted`` ``[H, R]``."""
    similarity = F.normalize(true, dim=1) @ F.normalize(predicted, dim=1).T  # [H true, H predicted]
    return float((similarity.argmax(1) == torch.arange(len(true))).float().mean())


def _split_similarities(parts: list[torch.Tensor], hidden: torch.Tensor, kept: torch.Tensor):
    """Per source ``s``: (cosines ``[H, K]`` of hidden to kept classes, kept classes' presence ``[K]`` 0/1)."""
    return [(part[hidden] @ part[kept].T, (part[kept].norm(dim=1) > 0).float()) for part in parts]


def _combined(similarities, weights: Sequence[float]) -> torch.Tensor:
    """Cosines ``[H, K]`` of combined descriptors, up to a positive factor per hidden class (see ``neighbour_mean``)."""
    numerator = sum(w * cosines for w, (cosines, _) in zip(weights, similarities))
    kept_norm = sum(w * present for w, (_, present) in zip(weights, similarities)).clamp_min(1e-12).sqrt()
    return numerator / kept_norm


def rehearse(
    described: Described,
    seen_rows: torch.Tensor,
    powers: Sequence[float] = POWERS,
    steps: int = 5,
    splits: int = 5,
    fraction: float = 0.2,
    sources: Sequence[str] | None = None,
) -> Rehearsal:
    """Source weights and neighbour power maximising the rehearsal top-1 on the ``C`` seen rows ``[C, R]``.

    Ties go to the most even weighting, then the smaller power.
    """
    names = list(sources or described.sources)
    parts = [described.seen[name].float() for name in names]
    rows = seen_rows.float()
    cuts = [heldout_split(rows.shape[0], fraction, seed) for seed in range(splits)]
    per_split = [_split_similarities(parts, hidden, kept) for hidden, kept in cuts]
    grid = sorted(simplex_grid(len(names), steps), key=lambda w: max(w) - min(w))
    table: dict[tuple[tuple[float, ...], float], float] = {}
    for weights in grid:
        combined = [_combined(similarities, weights) for similarities in per_split]
        for power in sorted(powers):
            scores = [top1(neighbour_mean(sim, rows[kept], TOP_K, power), rows[hidden])
                      for sim, (hidden, kept) in zip(combined, cuts)]
            table[(weights, power)] = sum(scores) / len(scores)
    best = max(table, key=table.__getitem__)  # the first of equal scores: most even, smallest power
    return Rehearsal(dict(zip(names, best[0])), best[1], table[best], table)
