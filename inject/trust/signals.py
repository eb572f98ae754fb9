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
EXACT = 4096  # requests up to this size compare every pair of predicted rows
CHUNK = 1024  # rows compared at a time
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


class Others(NamedTuple):
    """Per predicted row of a request: the ``nearest`` other row's index ``[Q]`` (-1 when alone), its ``cosine``
    ``[Q]`` (0 when alone) and the ``crowding`` ``[Q]``: mean cosine to the ``CROWD`` nearest others."""

    nearest: torch.Tensor
    cosine: torch.Tensor
    crowding: torch.Tensor


def nearest_others(unit: torch.Tensor, groups: torch.Tensor | None = None) -> Others:
    """``Others`` of the unit rows ``[Q, D]``, ``CHUNK`` rows at a time; among all rows, or (``groups`` ``[Q]``,
    for requests above ``EXACT``) among the rows of the same group only."""
    count = unit.shape[0]
    nearest, cosine, crowding = torch.full((count,), -1), torch.zeros(count), torch.zeros(count)
    if groups is None and count > EXACT:
        raise ValueError(f"{count} rows need groups to compare within")
    members = [torch.arange(count)] if groups is None else [(groups == g).nonzero()[:, 0] for g in groups.unique()]
    for member in (m for m in members if len(m) > 1):
        for part in member.split(CHUNK):
            similarity = unit[part] @ unit[member].T
            similarity[torch.arange(len(part)), torch.searchsorted(member, part)] = -2.0  # not itself
            top = similarity.topk(min(CROWD, len(member) - 1), dim=1)
            nearest[part], cosine[part] = member[top.indices[:, 0]], top.values[:, 0]
            crowding[part] = top.values.mean(1)
    return Others(nearest, cosine, crowding)


def class_signals(near: Neighbourhood, pool_weight: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """``[Q, len(SIGNALS)]`` signals of ``Q`` classes predicted together (columns in ``SIGNALS`` order).

    Args:
        near: the request's ``neighbourhood`` among the seen classes its classes are predicted from.
        pool_weight: ``[P, D]`` those seen classes' weight rows; predicted: ``[Q, D]`` the request's predicted
            weight rows (any scale). Above ``EXACT`` classes the request signals compare rows that share their
            nearest seen class only (near-twins do; a 21K-class request would take minutes otherwise).
    """
    unit_pool = F.normalize(pool_weight.float(), dim=1)
    unit_predicted = F.normalize(predicted.float(), dim=1)
    others = nearest_others(unit_predicted, near.indices[:, 0] if len(predicted) > EXACT else None)
    columns = [
        near.cosines[:, 0],
        torch.einsum("qk,qkd->qd", near.weights, unit_pool[near.indices]).norm(dim=1),
        torch.cat([(part @ unit_pool.T).max(1).values for part in unit_predicted.split(CHUNK)]),
        others.cosine,
        others.crowding,
    ]
    return torch.stack(columns, dim=1)
