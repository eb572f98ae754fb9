"""Choose the seen/unseen offset on virtual features: the image-free calibration (after DFZSL, AAAI 2024).

Virtual pre-logit features (``inject.virtual``: vMF draws around the rows at one calibrated scale)
stand in for photos. The offset ``gamma`` then maximises the harmonic mean of two virtual accuracies:

* seen: virtual features of every seen class against the seen rows plus the actual new rows (the
  cost of ``gamma``: how often a new class steals a seen photo);
* new: a rehearsal in which a fifth of the seen classes is hidden, predicted by the same mapper
  from descriptors, and their virtual features (drawn around their true rows, as real photos would
  be) must be recovered among the kept rows plus the predicted ones (the gain of ``gamma``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..mappers import Mapper
from ..virtual.features import nearest_row_cosine, virtual_features
from .base import Calibration, Problem, register_calibration
from .rules import heldout_rows, match_row_norms

LOGITS = 2**24  # logits held at a time in _gaps


@dataclass(frozen=True)
class VirtualCalibration:
    """The result: ``gamma`` to add to the new biases, and what it was chosen with."""

    gamma: float
    scale: float
    mean_cosine: float
    seen_accuracy: float
    new_accuracy: float


def _gaps(features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, is_new: torch.Tensor):
    """Per feature: (best seen logit - best new logit, seen side right, new side right).

    Features go in slices of at most ``LOGITS // classes``, so the ``[slice, classes]`` logits (and their
    two masked copies) stay near 64 MB each even with 22K classes.
    """
    gaps, seen_right, new_right = [], [], []
    step = max(1, LOGITS // weight.shape[0])
    for part in (slice(i, i + step) for i in range(0, len(labels), step)):
        logits = features[part] @ weight.T + bias
        seen, new = logits.masked_fill(is_new, -math.inf), logits.masked_fill(~is_new, -math.inf)
        gaps.append(seen.max(1).values - new.max(1).values)
        seen_right.append(seen.argmax(1) == labels[part])
        new_right.append(new.argmax(1) == labels[part])
    return torch.cat(gaps), torch.cat(seen_right), torch.cat(new_right)


def best_offset(
    seen_gap: torch.Tensor, seen_right: torch.Tensor, new_gap: torch.Tensor, new_right: torch.Tensor
) -> tuple[float, float, float]:
    """(gamma, seen accuracy, new accuracy) maximising their harmonic mean.

    A seen feature stays right while ``gamma < seen_gap``; a new one becomes right once
    ``gamma > new_gap``. Every breakpoint is a candidate (just above it).
    """
    candidates = torch.cat([seen_gap[seen_right], new_gap[new_right], torch.zeros(1)]).unique()
    candidates = torch.cat([candidates[:1] - 1, candidates + 1e-4])
    seen_sorted = seen_gap[seen_right].sort().values
    new_sorted = new_gap[new_right].sort().values
    seen_acc = (len(seen_sorted) - torch.searchsorted(seen_sorted, candidates, right=True)) / len(seen_gap)
    new_acc = torch.searchsorted(new_sorted, candidates) / len(new_gap)
    harmonic = 2 * seen_acc * new_acc / (seen_acc + new_acc).clamp_min(1e-12)
    best = int(harmonic.argmax())
    return float(candidates[best]), float(seen_acc[best]), float(new_acc[best])


PER_CLASS = 4  # virtual features per seen class
MAX_CLASSES = 2000  # seen classes sampled at most


def sampled_classes(count: int, limit: int = MAX_CLASSES, seed: int = 0) -> torch.Tensor:
    """Sorted indices of at most ``limit`` of ``count`` seen classes, a seeded sample (all of them when fewer)."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:limit].sort().values


def virtual_gamma(
    mapper: Mapper,
    seen_rows: torch.Tensor,
    seen_descriptors: torch.Tensor,
    new_weight: torch.Tensor,
    new_bias: torch.Tensor,
    *,
    confidence: float = 0.8,
    per_class: int = PER_CLASS,
    max_classes: int = MAX_CLASSES,
    seed: int = 0,
) -> VirtualCalibration:
    """The image-free offset for new rows ``new_weight`` ``[K, D]`` / ``new_bias`` ``[K]`` (norms already matched).

    Args:
        mapper: the mapper that predicted the new rows (refitted here for the rehearsal).
        seen_rows: ``[C, D + 1]`` seen ``[W | b]``; seen_descriptors: ``[C, E]``.
        per_class: virtual features per class; max_classes: seen classes sampled at most (heads
            with more classes are subsampled, seeded, to bound time and memory).
    """
    width = new_weight.shape[1]
    weight, bias = seen_rows[:, :width], seen_rows[:, width]
    count = weight.shape[0]
    classes = sampled_classes(count, max_classes, seed)
    nearest = nearest_row_cosine(weight)
    features, labels, scale = virtual_features(weight, bias, per_class, confidence=confidence, classes=classes,
                                               nearest=nearest, seed=seed)

    everything = torch.cat([weight, new_weight]), torch.cat([bias, new_bias])
    is_new = torch.arange(count + new_weight.shape[0]) >= count
    seen_gap, seen_right, _ = _gaps(features, labels, *everything, is_new)

    hidden, kept, predicted = heldout_rows(mapper, seen_descriptors, seen_rows)
    rehearsal_weight, rehearsal_bias = weight.clone(), bias.clone()
    rehearsal_weight[hidden] = match_row_norms(predicted[:, :width], weight[kept])
    rehearsal_bias[hidden] = predicted[:, width]
    is_hidden = torch.zeros(count, dtype=torch.bool)
    is_hidden[hidden] = True
    rows_of_hidden = is_hidden[labels]
    new_gap, _, new_right = _gaps(features[rows_of_hidden], labels[rows_of_hidden], rehearsal_weight, rehearsal_bias, is_hidden)

    gamma, seen_acc, new_acc = best_offset(seen_gap, seen_right, new_gap, new_right)
    return VirtualCalibration(gamma, scale, float(nearest[classes].clamp(0.05, 0.95).mean()), seen_acc, new_acc)


@register_calibration("virtual")
def _virtual(problem: Problem) -> Calibration:
    result = virtual_gamma(problem.mapper, problem.seen_rows, problem.seen_descriptors, problem.new_weight, problem.new_bias)
    details = {"scale": result.scale, "mean_cosine": result.mean_cosine,
               "virtual_seen_accuracy": result.seen_accuracy, "virtual_new_accuracy": result.new_accuracy}
    return Calibration("virtual", result.gamma, details)
