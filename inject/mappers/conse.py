"""``conse``: training-free convex combination of seen rows (after ConSE, Norouzi et al. 2014).

A new class's row is the average of the rows of its ``top_k`` most similar seen classes (cosine
similarity of descriptors), weighted by their positive similarity raised to ``power``: 1 is ConSE's
convex combination; larger powers let the nearest seen classes dominate (the knowledge step chooses
it by rehearsal on the seen rows, ``inject.knowledge.weights``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import register_mapper

CHUNK = 1024  # queries per gather in neighbour_mean


@register_mapper("conse")
class ConSEMapper:
    """Rows of new classes as similarity-weighted means of their nearest seen rows.

    Args:
        top_k: how many of the most similar seen classes contribute.
        power: neighbour weights are ``similarity ** power`` (positive part), normalised.
    """

    def __init__(self, top_k: int = 10, power: float = 1.0) -> None:
        self.top_k = top_k
        self.power = power

    def fit(
        self, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, new_descriptors: torch.Tensor | None = None
    ) -> "ConSEMapper":
        self.seen_descriptors_ = F.normalize(seen_descriptors.float(), dim=-1)
        self.seen_rows_ = seen_rows
        return self

    def predict(self, new_descriptors: torch.Tensor) -> torch.Tensor:
        similarity = F.normalize(new_descriptors.float(), dim=-1) @ self.seen_descriptors_.T  # [K, C]
        return neighbour_mean(similarity, self.seen_rows_, self.top_k, self.power)


def neighbour_mean(similarity: torch.Tensor, rows: torch.Tensor, top_k: int, power: float = 1.0) -> torch.Tensor:
    """Rows ``[K, R]``: for each of ``K`` queries, the mean of ``rows`` ``[C, R]`` over its ``top_k`` most
    similar (``similarity`` ``[K, C]``), weighted by ``max(similarity, 0) ** power`` (uniform if all are 0).

    Only each row's order and ratios of ``similarity`` matter: scaling a query's similarities by a positive
    number gives the same rows. Queries go ``CHUNK`` at a time: the gathered neighbours ``[chunk, k, R]``
    stay small however many new classes there are (21K classes at once would need 1.1 GB).
    """
    _, indices, weights = neighbour_weights(similarity, top_k, power)
    weights = weights.to(rows.dtype)
    parts = [torch.einsum("kn,knr->kr", weights[start : start + CHUNK], rows[indices[start : start + CHUNK]])
             for start in range(0, similarity.shape[0], CHUNK)]
    return torch.cat(parts) if parts else rows.new_zeros(0, rows.shape[1])


def neighbour_weights(
    similarity: torch.Tensor, top_k: int, power: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(similarities ``[K, k]`` descending, indices ``[K, k]``, weights ``[K, k]``) of each query's ``top_k`` most
    similar columns of ``similarity`` ``[K, C]``: ``max(similarity, 0) ** power``, normalised (uniform if all are 0)."""
    top = similarity.topk(min(top_k, similarity.shape[1]), dim=1)
    weights = top.values.clamp_min(0) ** power
    weights = torch.where(weights.sum(1, keepdim=True) > 0, weights, torch.ones_like(weights))
    return top.values, top.indices, weights / weights.sum(1, keepdim=True)
