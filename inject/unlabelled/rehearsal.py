"""How hard the rows are pulled towards the text prior, chosen without labels: a leave-classes-out rehearsal.

Hide as many seen classes as there are new ones (at least 20, at most a fifth of the head), predict their rows with
the same mapper from their descriptors (``inject.calibration.rules.heldout_rows``), and let virtual
features drawn around their *true* rows (``inject.virtual``, as many per class as the pile holds per new
class) play the pile; a second draw of as many plays the test photos. The pile is clustered once
from the predicted rows (``inject.unlabelled.clusters``), and each candidate ``strength`` makes rows
from it; the one whose rows recover the most test features among the hidden classes wins (ties go to
the stronger pull, the one nearer the text). Nothing of the user's classes or photos but the pile's
size goes in.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..calibration.rules import heldout_rows, match_row_norms
from ..mappers import Mapper
from ..virtual.features import nearest_row_cosine, virtual_features
from .clusters import cluster_labels
from .rows import pile_rows

STRENGTHS = (0.5, 2.0, 5.0, 20.0)  # the text prior's weight, in photos
MIN_PER_CLASS, MAX_PER_CLASS = 2, 30
MIN_HIDDEN = 20  # seen classes hidden at least (heads of fewer than 100 classes hide a fifth)


@dataclass(frozen=True)
class Rehearsed:
    """The chosen ``strength`` and each candidate's rehearsal top-1 among the hidden classes (``scores``)."""

    strength: float
    scores: dict[float, float]


def _rehearsal_pile(weight, bias, hidden, per_class: int, seed: int):
    """(pile ``[H * n, D]``, its local labels, test features, their local labels): two virtual draws per hidden class."""
    features, labels, _ = virtual_features(weight, bias, 2 * per_class, classes=hidden, nearest=nearest_row_cosine(weight),
                                           seed=seed)
    local = torch.full((len(weight),), -1, dtype=torch.long)
    local[hidden] = torch.arange(len(hidden))
    in_pile = torch.arange(len(labels)) % (2 * per_class) < per_class
    return features[in_pile], local[labels[in_pile]], features[~in_pile], local[labels[~in_pile]]


def choose_strength(
    mapper: Mapper, seen_rows: torch.Tensor, seen_descriptors: torch.Tensor, new_classes: int, pile_size: int,
    strengths: tuple[float, ...] = STRENGTHS, seed: int = 0,
) -> Rehearsed:
    """The pull towards the text prior for ``new_classes`` classes and a pile of ``pile_size`` photos.

    ``seen_rows`` ``[C, D + 1]`` seen ``[W | b]``, ``seen_descriptors`` ``[C, E]``; ``mapper``: the one that
    predicted the new rows (refitted here on the kept seen classes).
    """
    count, width = seen_rows.shape[0], seen_rows.shape[1] - 1
    weight, bias = seen_rows[:, :width], seen_rows[:, width]
    fraction = min(0.2, max(new_classes, MIN_HIDDEN) / count)
    hidden, kept, predicted = heldout_rows(mapper, seen_descriptors, seen_rows, fraction, seed)
    text_weight, text_bias = match_row_norms(predicted[:, :width], weight[kept]), predicted[:, width]
    per_class = min(MAX_PER_CLASS, max(MIN_PER_CLASS, round(pile_size / max(new_classes, 1))))
    pile, _, test, test_labels = _rehearsal_pile(weight, bias, hidden, per_class, seed)
    labels = cluster_labels(pile, pile @ text_weight.T + text_bias)
    scores = {}
    for strength in strengths:
        rows = pile_rows(text_weight, weight, pile, labels, strength)
        scores[strength] = float(((test @ rows.weight.T + rows.bias).argmax(1) == test_labels).float().mean())
    best = max(sorted(strengths, reverse=True), key=lambda s: scores[s])
    return Rehearsed(best, scores)
