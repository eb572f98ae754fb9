"""What every calibration method shares: the ``Problem`` it sees, the ``Calibration`` it returns, the registry.

Mirrors ``inject.mappers.base``: each method is a function ``Problem -> Calibration`` registered under
the name users choose it by (``--calibration``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch

from ..mappers.base import Mapper
from ..registry import Registry


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
CALIBRATIONS: Registry[Method] = Registry("calibration", "--calibration")
DEFAULT_CALIBRATION = "virtual"


def register_calibration(name: str) -> Callable[[Method], Method]:
    """Register an image-free calibration method under ``name``."""
    return CALIBRATIONS.register(name)


def list_calibrations() -> list[str]:
    """Names of the registered image-free methods, the default first."""
    return sorted(CALIBRATIONS.names(), key=lambda name: name != DEFAULT_CALIBRATION)


def calibrate(method: str, problem: Problem) -> Calibration:
    """Run the registered ``method`` on ``problem``; an unknown name raises ``InjectError`` listing the known ones."""
    return CALIBRATIONS.get(method)(problem)
