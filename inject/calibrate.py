"""Calibration of predicted rows against the seen ones, folded into the head's weights and bias.

Regression shrinks predicted rows towards the mean row, so unscaled they lose every comparison with a
seen class. Two image-free corrections, both plain edits of the rows:

* ``match_row_norms``: each new weight row is rescaled to the seen rows' mean norm.
* a seen/unseen offset ``gamma`` added to every new bias (calibrated stacking, Chao et al. 2016,
  applied to the bias instead of at test time), chosen by ``margin_gamma``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .mappers import Mapper


def match_row_norms(new_weight: torch.Tensor, seen_weight: torch.Tensor) -> torch.Tensor:
    """``new_weight`` ``[K, D]`` with every row rescaled to the mean L2 norm of ``seen_weight`` ``[C, D]``."""
    target = seen_weight.norm(dim=1).mean()
    return new_weight * (target / new_weight.norm(dim=1, keepdim=True).clamp_min(1e-12))


def heldout_row_cosine(
    mapper: Mapper, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, fraction: float = 0.2, seed: int = 0
) -> float:
    """Mean cosine between true and predicted weight rows of seen classes the mapper did not see.

    ``fraction`` of the seen classes (seeded) is hidden, ``mapper`` is fitted on the rest and
    predicts the hidden ones: an image-free estimate of how well it will predict new classes.
    ``seen_descriptors`` ``[C, E]``, ``seen_rows`` ``[C, R]``.
    """
    count = seen_rows.shape[0]
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    hidden, kept = order[: max(1, round(fraction * count))], order[max(1, round(fraction * count)) :]
    predicted = mapper.fit(seen_descriptors[kept], seen_rows[kept], seen_descriptors[hidden]).predict(seen_descriptors[hidden])
    return float(F.cosine_similarity(predicted, seen_rows[hidden], dim=1).mean())


def margin_gamma(num_classes: int, row_cosine: float) -> float:
    """Image-free seen/unseen offset: ``log(C) * (1 - row_cosine)``.

    A softmax classifier that is confident on its training classes gives the right class a logit
    about ``log(C)`` above the crowd of the other ``C - 1``: that margin is what it takes to win a
    probability near one half. A predicted row whose direction has cosine ``rho`` with the ideal one
    keeps only about ``rho`` of that margin on its class's images, so the new class is raised by the
    part it loses, ``log(C) * (1 - rho)``. ``rho`` comes from ``heldout_row_cosine``.
    """
    return math.log(num_classes) * (1.0 - max(0.0, min(1.0, row_cosine)))
