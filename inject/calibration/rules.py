"""Image-free offset rules that need no sampling: held-out row cosine, the margin rule, the ZLA prior.

Regression shrinks predicted rows towards the mean row, so unscaled they lose every comparison with a
seen class. ``match_row_norms`` rescales them; an offset ``gamma`` added to every new bias (calibrated
stacking, Chao et al. 2016, folded into the bias) settles the rest.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import InjectError
from ..mappers.base import Mapper
from .base import Calibration, Problem, register_calibration


def match_row_norms(new_weight: torch.Tensor, seen_weight: torch.Tensor) -> torch.Tensor:
    """``new_weight`` ``[K, D]`` with every row rescaled to the mean L2 norm of ``seen_weight`` ``[C, D]``."""
    target = seen_weight.norm(dim=1).mean()
    return new_weight * (target / new_weight.norm(dim=1, keepdim=True).clamp_min(1e-12))


def heldout_split(count: int, fraction: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden, kept) class indices: a seeded ``fraction`` of ``count`` seen classes plays the new ones."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    cut = max(1, round(fraction * count))
    return order[:cut], order[cut:]


def heldout_rows(
    mapper: Mapper, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, fraction: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(hidden, kept, predicted ``[H, R]``): ``mapper`` fitted on the kept classes predicts the hidden ones.

    ``seen_descriptors`` ``[C, E]``, ``seen_rows`` ``[C, R]``: an image-free rehearsal of injection.
    """
    hidden, kept = heldout_split(seen_rows.shape[0], fraction, seed)
    fitted = mapper.fit(seen_descriptors[kept], seen_rows[kept], seen_descriptors[hidden])
    return hidden, kept, fitted.predict(seen_descriptors[hidden])


def heldout_row_cosine(
    mapper: Mapper, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, fraction: float = 0.2, seed: int = 0
) -> float:
    """Mean cosine between true and predicted rows of held-out seen classes (see ``heldout_rows``)."""
    hidden, _, predicted = heldout_rows(mapper, seen_descriptors, seen_rows, fraction, seed)
    return float(F.cosine_similarity(predicted, seen_rows[hidden], dim=1).mean())


def margin_gamma(num_classes: int, row_cosine: float) -> float:
    """The margin rule: ``log(C) * (1 - row_cosine)``.

    A softmax classifier that is confident on its training classes gives the right class a logit
    about ``log(C)`` above the crowd of the other ``C - 1``. A predicted row whose direction has
    cosine ``rho`` with the ideal one keeps only about ``rho`` of that margin, so the new class is
    raised by the part it loses. ``rho`` comes from ``heldout_row_cosine``.
    """
    return math.log(num_classes) * (1.0 - max(0.0, min(1.0, row_cosine)))


def prior_gamma(prior_ratio: float) -> float:
    """Zero-shot logit adjustment (Chen et al., IJCAI 2022) after training: ``gamma = log(prior_ratio)``.

    ``prior_ratio`` is the prior probability of one new class over that of one seen class; adding its
    log to the new logits is the Bayes-optimal shift for that prior. ``C / K`` (new classes as likely,
    together, as the seen ones together) is the balanced choice.
    """
    if not (prior_ratio > 0 and math.isfinite(prior_ratio)):
        raise InjectError(f"prior ratio (--prior-ratio) must be a positive finite number, not {prior_ratio}")
    return math.log(prior_ratio)


@register_calibration("margin")
def _margin(problem: Problem) -> Calibration:
    rho = heldout_row_cosine(problem.mapper, problem.seen_descriptors, problem.seen_rows)
    total = problem.seen_rows.shape[0] + problem.new_weight.shape[0]
    return Calibration("margin", margin_gamma(total, rho), {"heldout_row_cosine": rho})


@register_calibration("prior")
def _prior(problem: Problem) -> Calibration:
    ratio = problem.prior_ratio if problem.prior_ratio is not None else problem.seen_rows.shape[0] / problem.new_weight.shape[0]
    return Calibration("prior", prior_gamma(ratio), {"prior_ratio": ratio})


@register_calibration("none")
def _none(problem: Problem) -> Calibration:
    return Calibration("none", 0.0)
