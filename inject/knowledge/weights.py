"""Choose the weights of descriptor sources by leave-classes-out rehearsal on the seen classes only.

Several seeded splits hide a fifth of the seen classes (``heldout_split``); for each candidate weighting
(a grid over the simplex) the mapper is fitted on the kept classes and predicts the hidden classes' rows
from the combined descriptors. Criteria, averaged over splits:

* ``top1``: how often a hidden class's true row is nearest (cosine) to its own predicted row among all
  hidden predictions: zero-shot top-1 with the true rows standing in for photos;
* ``cosine``: mean cosine of predicted and true rows (what ``crafted`` cross-validates).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ..calibration.rules import heldout_split
from ..errors import InjectError
from ..mappers import Mapper, create_mapper
from .describe import Described, _parts

CRITERIA = ("top1", "cosine")


@dataclass(frozen=True)
class SourceWeights:
    """The chosen ``weights`` (source -> weight, summing to 1), its ``score``, the ``criterion`` and every
    candidate's score (``table``: tuples of weights in source order -> score)."""

    weights: dict[str, float]
    score: float
    criterion: str
    table: dict[tuple[float, ...], float]


def simplex_grid(count: int, steps: int) -> list[tuple[float, ...]]:
    """Every weighting of ``count`` sources in multiples of ``1 / steps`` summing to 1."""
    return [tuple(c / steps for c in combo) for combo in itertools.product(range(steps + 1), repeat=count)
            if sum(combo) == steps]


def rehearsal_score(predicted: torch.Tensor, true: torch.Tensor, criterion: str) -> float:
    """Score of predicted rows ``[H, R]`` against the true rows ``[H, R]`` of the hidden classes."""
    if criterion == "cosine":
        return float(F.cosine_similarity(predicted, true, dim=1).mean())
    similarity = F.normalize(true, dim=1) @ F.normalize(predicted, dim=1).T  # [H true, H predicted]
    return float((similarity.argmax(1) == torch.arange(len(true))).float().mean())


def fit_source_weights(
    described: Described,
    seen_rows: torch.Tensor,
    mapper_factory: Callable[[], Mapper] = lambda: create_mapper("conse"),
    criterion: str = "top1",
    splits: int = 5,
    fraction: float = 0.2,
    steps: int = 10,
    sources: Sequence[str] | None = None,
    average_top: int = 1,
) -> SourceWeights:
    """Source weights maximising the leave-classes-out ``criterion`` on the ``C`` seen rows ``[C, R]``.

    The new classes are never looked at. Ties go to the most even weighting (the grid's centre first).
    ``average_top > 1`` returns the mean of the ``average_top`` best weightings (rehearsal scores are flat
    near the top, so the mean is a steadier choice than the single best); ``score`` is still the best one's.
    """
    if criterion not in CRITERIA:
        raise InjectError(f"unknown criterion '{criterion}'; choose from {', '.join(CRITERIA)}")
    names = list(sources or described.sources)
    parts, rows = described.seen, seen_rows.float()
    cuts = [heldout_split(rows.shape[0], fraction, seed) for seed in range(splits)]
    grid = sorted(simplex_grid(len(names), steps), key=lambda w: max(w) - min(w))
    table: dict[tuple[float, ...], float] = {}
    for candidate in grid:
        combined = _parts(parts, dict(zip(names, candidate)))
        scores = []
        for hidden, kept in cuts:
            mapper = mapper_factory().fit(combined[kept], rows[kept], combined[hidden])
            scores.append(rehearsal_score(mapper.predict(combined[hidden]), rows[hidden], criterion))
        table[candidate] = sum(scores) / len(scores)
    ranked = sorted(grid, key=lambda w: -table[w])  # stable: the most even of equal scores first
    best = ranked[0]
    if average_top > 1:
        chosen = torch.tensor(ranked[:average_top]).mean(0).tolist()
        return SourceWeights(dict(zip(names, chosen)), table[best], criterion, table)
    return SourceWeights(dict(zip(names, best)), table[best], criterion, table)


def fit_rehearsal(
    described: Described,
    seen_rows: torch.Tensor,
    mapper_factories: dict[str, Callable[[], Mapper]],
    **options,
) -> tuple[str, SourceWeights]:
    """(name of the best mapper setting, its ``SourceWeights``): ``fit_source_weights`` for every factory in
    ``mapper_factories`` (e.g. a few temperatures), keeping the best score; the first wins ties."""
    fitted = {name: fit_source_weights(described, seen_rows, factory, **options) for name, factory in mapper_factories.items()}
    name = max(fitted, key=lambda n: fitted[n].score)
    return name, fitted[name]
