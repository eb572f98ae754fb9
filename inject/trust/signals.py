"""Cheap per-class signals of how well a predicted row will work, the same for hidden seen classes and new ones.

Every signal is computed from descriptors and rows only (no photo), for a *request*: the classes predicted
together (the new classes of an injection, or the seen classes a rehearsal hides). A query class ``q`` has a
unit descriptor ``d_q``, a pool of reference classes (the seen classes it is predicted from: descriptors
``[P, E]``, rows ``[P, R]``) and a predicted row ``p_q`` (``[D]``, the weight part):

* ``nearest_description``: cosine of ``d_q`` to its nearest pool descriptor (is any seen class near?);
* ``neighbour_agreement``: length of the ``conse``-weighted mean of the ``TOP_K`` neighbours' unit rows
  (1 when they point the same way, small when they disagree about what the class looks like);
* ``nearest_seen_row``: cosine of ``p_q`` to its nearest pool row (the one-signal baseline: a row that
  copies one seen row);
* ``nearest_new_row``: cosine of ``p_q`` to the nearest other predicted row of the request;
* ``crowding``: mean cosine of ``p_q`` to its three nearest other predicted rows.

The last two depend on the other classes of the request: two names with one row cannot both work. Each
signal says one thing the others do not; candidates that repeated one (the gap between the first and the
tenth neighbour's cosine, the cosine to the nearest other new *descriptor*) were left out.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..mappers.conse import neighbour_weights

TOP_K = 10  # conse's neighbours
CROWD = 3  # other predicted rows averaged by ``crowding``
CLASS_SIGNALS = ("nearest_description", "neighbour_agreement", "nearest_seen_row")
REQUEST_SIGNALS = ("nearest_new_row", "crowding")
SIGNALS = CLASS_SIGNALS + REQUEST_SIGNALS


class Neighbourhood(NamedTuple):
    """The ``k`` most similar pool classes of each query: cosines ``[Q, k]`` (descending), indices ``[Q, k]``
    and ``conse``'s weights ``[Q, k]`` (``inject.mappers.conse.neighbour_weights``)."""

    cosines: torch.Tensor
    indices: torch.Tensor
    weights: torch.Tensor


def neighbourhood(query: torch.Tensor, pool: torch.Tensor, power: float, top_k: int = TOP_K) -> Neighbourhood:
    """The ``top_k`` nearest of ``pool`` ``[P, E]`` to each row of ``query`` ``[Q, E]`` by cosine, weighted as ``conse``."""
    return neighbours_of(F.normalize(query.float(), dim=1) @ F.normalize(pool.float(), dim=1).T, power, top_k)


def neighbours_of(cosines: torch.Tensor, power: float, top_k: int = TOP_K) -> Neighbourhood:
    """The ``Neighbourhood`` of queries whose cosines to the pool ``[Q, P]`` are already known."""
    return Neighbourhood(*neighbour_weights(cosines, top_k, power))


def predicted_rows(near: Neighbourhood, pool_rows: torch.Tensor) -> torch.Tensor:
    """``conse``'s rows ``[Q, R]``: the weighted mean of each query's neighbour rows (``pool_rows`` ``[P, R]``)."""
    return torch.einsum("qk,qkr->qr", near.weights, pool_rows[near.indices])


def _nearest_other(similarity: torch.Tensor, count: int = 1) -> torch.Tensor:
    """Mean of the ``count`` largest off-diagonal entries per row of a square ``[N, N]`` similarity (0 when ``N`` is 1)."""
    if similarity.shape[0] < 2:
        return torch.zeros(similarity.shape[0])
    masked = similarity.clone().fill_diagonal_(-2.0)
    return masked.topk(min(count, similarity.shape[0] - 1), dim=1).values.mean(1)


def class_signals(near: Neighbourhood, pool_weight: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """``[Q, len(SIGNALS)]`` signals of ``Q`` classes predicted together (columns in ``SIGNALS`` order).

    Args:
        near: the request's ``neighbourhood`` among the seen classes its ``Q`` classes are predicted from; pool_weight: ``[P, D]`` those classes' weight rows.
        predicted: ``[Q, D]`` the request's predicted weight rows (any scale).
    """
    unit_pool = F.normalize(pool_weight.float(), dim=1)
    unit_predicted = F.normalize(predicted.float(), dim=1)
    request = unit_predicted @ unit_predicted.T
    columns = [
        near.cosines[:, 0],
        torch.einsum("qk,qkd->qd", near.weights, unit_pool[near.indices]).norm(dim=1),
        (unit_predicted @ unit_pool.T).max(1).values,
        _nearest_other(request),
        _nearest_other(request, CROWD),
    ]
    return torch.stack(columns, dim=1)
