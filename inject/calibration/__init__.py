"""Calibration of predicted rows against the seen ones, folded into the new rows' bias.

A registry of image-free methods, each mapping a ``Problem`` to a ``Calibration`` (the offset
``gamma`` added to every new bias, and a record of how it was chosen):

* ``virtual`` (default): maximise the harmonic mean on virtual features (``virtual.py``);
* ``margin``: ``log(C) * (1 - rho)`` from the held-out row cosine ``rho`` (``rules.py``);
* ``prior``: zero-shot logit adjustment, ``log(prior_ratio)`` (``rules.py``);
* ``none``: no offset.

With labelled photos, ``stacking.stacking_gamma`` chooses the offset by calibrated stacking instead.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch

from ..errors import InjectError
from ..mappers import Mapper
from .rules import heldout_row_cosine, margin_gamma, match_row_norms, prior_gamma
from .virtual import virtual_gamma


@dataclass(frozen=True)
class Problem:
    """What a calibration method may look at.

    Attributes:
        mapper: the mapper that predicted the new rows (methods may refit it on seen classes).
        seen_rows: ``[C, D + 1]`` seen ``[W | b]``; seen_descriptors: ``[C, E]``.
        new_weight: ``[K, D]`` predicted rows, norms matched; new_bias: ``[K]`` predicted biases.
        prior_ratio: prior of one new class over one seen class for ``prior`` (``None``: ``C / K``).
    """

    mapper: Mapper
    seen_rows: torch.Tensor
    seen_descriptors: torch.Tensor
    new_weight: torch.Tensor
    new_bias: torch.Tensor
    prior_ratio: float | None = None


@dataclass(frozen=True)
class Calibration:
    """The chosen offset and how: ``method``, ``gamma`` and method-specific ``details``."""

    method: str
    gamma: float
    details: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """JSON-ready record for the model's metadata."""
        return asdict(self)


Method = Callable[[Problem], Calibration]
_METHODS: dict[str, Method] = {}


def register_calibration(name: str) -> Callable[[Method], Method]:
    """Register an image-free calibration method under ``name``."""

    def wrap(fn: Method) -> Method:
        _METHODS[name] = fn
        return fn

    return wrap


def list_calibrations() -> list[str]:
    return list(_METHODS)


def calibrate(method: str, problem: Problem) -> Calibration:
    """Run the registered ``method`` on ``problem``; an unknown name raises ``InjectError`` listing the known ones."""
    if method not in _METHODS:
        raise InjectError(f"unknown calibration '{method}' (--calibration); choose one of {', '.join(_METHODS)}")
    return _METHODS[method](problem)


@register_calibration("virtual")
def _virtual(problem: Problem) -> Calibration:
    result = virtual_gamma(problem.mapper, problem.seen_rows, problem.seen_descriptors, problem.new_weight, problem.new_bias)
    details = {"scale": result.scale, "mean_cosine": result.mean_cosine,
               "virtual_seen_accuracy": result.seen_accuracy, "virtual_new_accuracy": result.new_accuracy}
    return Calibration("virtual", result.gamma, details)


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


__all__ = ["Calibration", "Problem", "calibrate", "list_calibrations", "match_row_norms", "register_calibration"]
