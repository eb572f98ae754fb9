"""``crafted``: classifier rows as a fixed linear function of class semantics (Classifier Crafting).

Closed-form ridge regression from centred descriptors to centred rows. The regulariser is chosen by
leave-classes-out cross-validation on the seen classes: each fold hides a set of seen classes, fits
on the rest and scores the mean cosine between predicted and true rows of the hidden classes, the
quantity that decides how well a predicted row ranks its class.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .base import register_mapper

DEFAULT_ALPHAS = tuple(10.0 ** e for e in torch.arange(-4.0, 2.01, 0.5).tolist())


def _ridge_solutions(x: torch.Tensor, y: torch.Tensor, alphas: Sequence[float]) -> torch.Tensor:
    """Ridge coefficients for every alpha at once: ``[A, E, R]`` from centred ``x`` ``[N, E]``, ``y`` ``[N, R]``.

    One eigendecomposition of the ``[E, E]`` Gram matrix serves every alpha. ``alpha`` is relative
    to the mean squared singular value of ``x``, so the grid is scale-free.
    """
    eigenvalues, eigenvectors = torch.linalg.eigh(x.T @ x)
    eigenvalues = eigenvalues.clamp_min(0)
    projected = eigenvectors.T @ (x.T @ y)  # [E, R]
    scale = eigenvalues.sum() / min(x.shape)
    shrink = torch.stack([1.0 / (eigenvalues + a * scale) for a in alphas])  # [A, E]
    return torch.einsum("ek,ak,kr->aer", eigenvectors, shrink, projected)


@register_mapper("crafted")
class CraftedMapper:
    """Ridge regression descriptors -> rows with a cross-validated regulariser.

    Args:
        alphas: candidate regularisers, relative to the descriptors' mean squared singular value.
        folds: number of leave-classes-out folds used to choose among them.
        seed: seed of the class-to-fold assignment.
    """

    def __init__(self, alphas: Sequence[float] = DEFAULT_ALPHAS, folds: int = 5, seed: int = 0) -> None:
        self.alphas = tuple(alphas)
        self.folds = folds
        self.seed = seed

    def fit(
        self, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, new_descriptors: torch.Tensor | None = None
    ) -> "CraftedMapper":
        x, y = seen_descriptors.double(), seen_rows.double()
        self.alpha_ = self._cross_validated_alpha(x, y) if len(self.alphas) > 1 else self.alphas[0]
        self.x_mean_, self.y_mean_ = x.mean(0), y.mean(0)
        self.coef_ = _ridge_solutions(x - self.x_mean_, y - self.y_mean_, [self.alpha_])[0]
        self.out_dtype_ = seen_rows.dtype
        return self

    def _cross_validated_alpha(self, x: torch.Tensor, y: torch.Tensor) -> float:
        folds = min(self.folds, x.shape[0])
        generator = torch.Generator().manual_seed(self.seed)
        fold_of = torch.randperm(x.shape[0], generator=generator) % folds
        scores = torch.zeros(len(self.alphas), dtype=x.dtype)
        for fold in range(folds):
            held, kept = fold_of == fold, fold_of != fold
            x_mean, y_mean = x[kept].mean(0), y[kept].mean(0)
            coefs = _ridge_solutions(x[kept] - x_mean, y[kept] - y_mean, self.alphas)
            predicted = (x[held] - x_mean) @ coefs + y_mean  # [A, n_held, R]
            scores += F.cosine_similarity(predicted, y[held].expand_as(predicted), dim=-1).sum(1)
        return self.alphas[int(scores.argmax())]

    def predict(self, new_descriptors: torch.Tensor) -> torch.Tensor:
        rows = (new_descriptors.double() - self.x_mean_) @ self.coef_ + self.y_mean_
        return rows.to(self.out_dtype_)
