"""Virtual pre-logit features: vMF draws around a head's rows at one calibrated scale (after DFZSL, AAAI 2024).

The model of a photo's feature that calibration and the generative mappers share: the pre-logit
feature of a photo of class ``c`` is ``s * u``, with ``u`` drawn from a von Mises-Fisher distribution
around the direction of the class's weight row and ``s`` one scale for the whole head.

* Concentration: ``u``'s expected cosine to its row equals the cosine between the row and its nearest
  neighbouring row (DFZSL ties the spread to the smallest angle to another class; on the real
  EfficientNet-Lite0 both average 0.29: features of a class reach as far from their row as the
  nearest other class's row is).
* Scale: ``s`` is set so that the seen head gives the virtual seen features a mean true-class
  probability of ``confidence`` (default 0.8: ImageNet classifiers are roughly calibrated and
  mostly right).

A leaf module: it imports nothing from the rest of the package but the vMF sampler beside it.
"""
from __future__ import annotations

import math
from typing import Iterator

import torch
import torch.nn.functional as F

from .vmf import concentration_for_cosine, sample_vmf

CHUNK = 4096  # virtual features scored at a time, so 20k-class heads fit in memory


def chunks(count: int) -> Iterator[slice]:
    """Slices of ``range(count)`` of at most ``CHUNK`` items."""
    return (slice(i, min(i + CHUNK, count)) for i in range(0, count, CHUNK))


def nearest_row_cosine(weight: torch.Tensor) -> torch.Tensor:
    """For each row of ``weight`` ``[C, D]``, the cosine to its nearest other row: ``[C]``."""
    unit = F.normalize(weight, dim=1)
    nearest = torch.empty(weight.shape[0])
    for part in chunks(weight.shape[0]):
        sims = unit[part] @ unit.T
        sims[torch.arange(sims.shape[0]), torch.arange(part.start, part.stop)] = -2.0
        nearest[part] = sims.max(1).values
    return nearest


def scale_for_confidence(
    features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, confidence: float
) -> float:
    """Scale ``s`` at which ``softmax(s * features @ weight.T + bias)`` gives ``labels`` mean probability ``confidence``.

    ``features`` ``[N, D]`` unit vectors, ``labels`` ``[N]``; bisection on ``log s``. The mean
    probability cannot pass the top-1 accuracy the rows reach on the features as ``s`` grows, so the
    target is at most 90% of that accuracy (heads with crowded rows, e.g. random ones).
    """
    cosines = [features[part] @ weight.T for part in chunks(len(labels))]
    reachable = float(torch.cat([c.argmax(1) for c in cosines]).eq(labels).float().mean())
    confidence = min(confidence, 0.9 * reachable)
    low, high = math.log(1e-2), math.log(1e4)
    for _ in range(40):
        scale = math.exp((low + high) / 2)
        probability = torch.cat([(scale * c + bias).log_softmax(1) for c in cosines])
        mean = float(probability[torch.arange(len(labels)), labels].exp().mean())
        low, high = (math.log(scale), high) if mean < confidence else (low, math.log(scale))
    return math.exp((low + high) / 2)


def virtual_features(
    weight: torch.Tensor, bias: torch.Tensor, per_class: int, *, confidence: float = 0.8,
    classes: torch.Tensor | None = None, nearest: torch.Tensor | None = None, seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Virtual pre-logit features of seen classes: (features ``[N, D]``, labels ``[N]``, scale).

    ``per_class`` vMF draws around each row of ``weight`` ``[C, D]`` (or of ``classes``, a subset of
    indices) at the nearest-row concentration, times the one scale at which the head (``weight``,
    ``bias`` ``[C]``) gives them mean true-class probability ``confidence``. ``nearest`` ``[C]``:
    :func:`nearest_row_cosine` of ``weight`` when the caller already has it.
    """
    classes = torch.arange(weight.shape[0]) if classes is None else classes
    nearest = nearest_row_cosine(weight) if nearest is None else nearest
    mean_cosine = nearest[classes].clamp(0.05, 0.95)
    unit = sample_vmf(weight[classes], concentration_for_cosine(mean_cosine, weight.shape[1]), per_class, seed)
    labels = classes.repeat_interleave(per_class)
    scale = scale_for_confidence(unit, labels, weight, bias, confidence)
    return scale * unit, labels, scale
