"""A logistic relation from standardised signals to an outcome in [0, 1], fitted by Newton's method.

Soft targets (a share of virtual photos) are fine: the loss is the cross-entropy against them. A small
ridge keeps the fit defined when signals are collinear, and a far smaller one on the intercept keeps it finite
when every outcome is 0 or every one is 1 (a tiny head whose hidden classes are always found).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

RIDGE = 1e-4
INTERCEPT_RIDGE = 1e-6
STEPS = 50


@dataclass(frozen=True)
class Relation:
    """``sigmoid(((x - mean) / scale) @ weights[:-1] + weights[-1])`` for signals ``x`` ``[N, F]``."""

    mean: torch.Tensor
    scale: torch.Tensor
    weights: torch.Tensor

    def __call__(self, signals: torch.Tensor) -> torch.Tensor:
        """``[N]`` outcomes in (0, 1) for ``signals`` ``[N, F]``."""
        return torch.sigmoid(_design(signals, self.mean, self.scale) @ self.weights).float()


def _design(signals: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Standardised ``signals`` with a column of ones: ``[N, F + 1]`` float64."""
    standard = ((signals.double() - mean) / scale)
    return torch.cat([standard, torch.ones(len(signals), 1, dtype=torch.float64)], dim=1)


def quadratic(signals: torch.Tensor) -> torch.Tensor:
    """``signals`` ``[N, F]`` with every product of two of them, squares included: ``[N, F + F (F + 1) / 2]``.

    Signals act together: a class copied from one seen row (high ``nearest_seen_row``) is safe only when no
    other new row is as near; the products let a logistic relation say so.
    """
    first, second = torch.triu_indices(signals.shape[1], signals.shape[1])
    return torch.cat([signals, signals[:, first] * signals[:, second]], dim=1)


def fit_relation(signals: torch.Tensor, outcome: torch.Tensor, ridge: float = RIDGE) -> Relation:
    """The logistic ``Relation`` of ``outcome`` ``[M]`` (in [0, 1]) on ``signals`` ``[M, F]``."""
    mean, scale = signals.double().mean(0), signals.double().std(0).clamp_min(1e-6)
    design, target = _design(signals, mean, scale), outcome.double().clamp(0, 1)
    penalty = ridge * torch.eye(design.shape[1], dtype=torch.float64)
    penalty[-1, -1] = INTERCEPT_RIDGE
    weights = torch.zeros(design.shape[1], dtype=torch.float64)
    for _ in range(STEPS):
        probability = torch.sigmoid(design @ weights)
        gradient = design.T @ (probability - target) / len(target) + penalty @ weights
        curvature = (design * (probability * (1 - probability))[:, None]).T @ design / len(target) + penalty
        step = torch.linalg.solve(curvature, gradient)
        weights = weights - step
        if float(step.abs().max()) < 1e-8:
            break
    return Relation(mean, scale, weights)
