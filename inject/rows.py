"""The pure core: seen head + descriptors -> calibrated rows for the new classes."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .calibrate import heldout_row_cosine, margin_gamma, match_row_norms
from .errors import InjectError
from .mappers import Mapper


@dataclass(frozen=True)
class NewRows:
    """Rows for ``K`` new classes, ready to append to a head.

    Attributes:
        weight: ``[K, D]`` weight rows.
        bias: ``[K]`` biases, ``None`` for heads without bias.
        gamma: the seen/unseen offset folded into ``bias``.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None
    gamma: float


def head_rows(weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``[W | b]``: ``[C, D + 1]`` (or ``[C, D]`` without bias), the targets mappers learn."""
    return weight if bias is None else torch.cat([weight, bias[:, None]], dim=1)


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
) -> NewRows:
    """Fit ``mapper`` on the seen classes and predict calibrated rows for the new ones.

    Args:
        seen_weight: ``[C, D]``; seen_bias: ``[C]`` or ``None``.
        seen_descriptors: ``[C, E]``; new_descriptors: ``[K, E]``.
        gamma: seen/unseen bias offset; ``None`` chooses it image-free with ``margin_gamma``, from
            the mapper's cosine on held-out seen classes (one extra fit).
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
    check_finite_head(seen_weight, seen_bias)
    dtype = seen_weight.dtype
    rows = head_rows(seen_weight.float(), None if seen_bias is None else seen_bias.float())
    seen_descriptors, new_descriptors = seen_descriptors.float(), new_descriptors.float()
    if gamma is None:
        total = seen_weight.shape[0] + new_descriptors.shape[0]
        gamma = margin_gamma(total, heldout_row_cosine(mapper, seen_descriptors, rows))
    predicted = mapper.fit(seen_descriptors, rows, new_descriptors).predict(new_descriptors)
    width = seen_weight.shape[1]
    weight = match_row_norms(predicted[:, :width], seen_weight.float()).to(dtype)
    bias = None if seen_bias is None else (predicted[:, width] + gamma).to(dtype)
    if not torch.isfinite(weight).all() or (bias is not None and not torch.isfinite(bias).all()):
        raise InjectError(f"{type(mapper).__name__} predicted NaN or infinite rows; try another mapper (--mapper)")
    return NewRows(weight, bias, float(gamma))
