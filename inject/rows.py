"""The pure core: seen head + descriptors -> calibrated rows for the new classes."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .calibration import Calibration, Problem, calibrate, match_row_norms
from .calibration.rules import prior_gamma
from .errors import InjectError
from .mappers import Mapper


@dataclass(frozen=True)
class NewRows:
    """Rows for ``K`` new classes, ready to append to a head.

    Attributes:
        weight: ``[K, D]`` weight rows.
        bias: ``[K]`` biases, ``None`` for heads without bias.
        calibration: how the seen/unseen offset folded into ``bias`` was chosen.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None
    calibration: Calibration

    @property
    def gamma(self) -> float:
        """The seen/unseen offset added to every new bias."""
        return self.calibration.gamma

    def with_calibration(self, chosen: Calibration) -> "NewRows":
        """These rows with their offset replaced by ``chosen.gamma`` (heads with a bias only)."""
        if self.bias is None:
            raise InjectError("the head has no bias, so there is no offset to set")
        return NewRows(self.weight, self.bias + (chosen.gamma - self.gamma), chosen)


def head_rows(weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``[W | b]``: ``[C, D + 1]``, the targets mappers learn (``b = 0`` for heads without bias)."""
    bias = torch.zeros(weight.shape[0], dtype=weight.dtype) if bias is None else bias
    return torch.cat([weight, bias[:, None]], dim=1)


def check_finite_head(weight: torch.Tensor, bias: torch.Tensor | None, what: str = "the head") -> None:
    """Refuse a head (``weight`` ``[C, D]``, ``bias`` ``[C]``) with NaN or infinite values; ``what`` names it."""
    if not torch.isfinite(weight).all() or (bias is not None and not torch.isfinite(bias).all()):
        raise InjectError(f"{what} contains NaN or infinite weights; the model is damaged, use an intact copy")


def check_gamma(gamma: float | None) -> None:
    """Refuse a NaN or infinite seen/unseen offset (``None`` is fine: it is chosen image-free)."""
    if gamma is not None and not math.isfinite(gamma):
        raise InjectError(f"gamma (--gamma) must be a finite number, not {gamma}; leave it out to choose it image-free")


def predict_new_rows(
    seen_weight: torch.Tensor,
    seen_bias: torch.Tensor | None,
    seen_descriptors: torch.Tensor,
    new_descriptors: torch.Tensor,
    mapper: Mapper,
    gamma: float | None = None,
    calibration: str = "virtual",
    prior_ratio: float | None = None,
) -> NewRows:
    """Fit ``mapper`` on the seen classes and predict calibrated rows for the new ones.

    Args:
        seen_weight: ``[C, D]``; seen_bias: ``[C]`` or ``None``.
        seen_descriptors: ``[C, E]``; new_descriptors: ``[K, E]``.
        gamma: seen/unseen bias offset; ``None`` chooses it with ``calibration``.
        calibration: a registered image-free method (``inject.calibration.list_calibrations()``);
            ``virtual`` and ``margin`` refit the mapper once on held-out seen classes.
        prior_ratio: for ``calibration="prior"``: prior of one new class over one seen class.
    """
    if seen_descriptors.shape[0] != seen_weight.shape[0]:
        raise InjectError(
            f"{seen_descriptors.shape[0]} seen descriptors for a head of {seen_weight.shape[0]} classes; "
            "give one seen name or vector per head row"
        )
    if seen_descriptors.shape[1] != new_descriptors.shape[1]:
        raise InjectError(
            f"new descriptors have width {new_descriptors.shape[1]} but seen ones {seen_descriptors.shape[1]}; "
            "both must come from the same encoder or attribute space"
        )
    check_gamma(gamma)
    if prior_ratio is not None:
        prior_gamma(prior_ratio)  # refuses a bad ratio before any fit
    check_finite_head(seen_weight, seen_bias)
    dtype = seen_weight.dtype
    rows = head_rows(seen_weight.float(), None if seen_bias is None else seen_bias.float())
    seen_descriptors, new_descriptors = seen_descriptors.float(), new_descriptors.float()
    predicted = mapper.fit(seen_descriptors, rows, new_descriptors).predict(new_descriptors)
    width = seen_weight.shape[1]
    weight = match_row_norms(predicted[:, :width], seen_weight.float())
    if not torch.isfinite(predicted).all():
        raise InjectError(f"{type(mapper).__name__} predicted NaN or infinite rows; try another mapper (--mapper)")
    if seen_bias is None:
        return NewRows(weight.to(dtype), None, Calibration("none", 0.0, {"reason": "the head has no bias to hold an offset"}))
    if gamma is not None:
        chosen = Calibration("fixed", float(gamma))
    else:
        problem = Problem(mapper, rows, seen_descriptors, weight, predicted[:, width], prior_ratio)
        chosen = calibrate(calibration, problem)
    return NewRows(weight.to(dtype), (predicted[:, width] + chosen.gamma).to(dtype), chosen)
