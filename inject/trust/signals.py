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
    """``Others`` of the unit rows ``[Q, D]``: among all rows (``CHUNK`` at a time), or, with ``groups`` ``[Q]``,
    among the rows of the same group only (every such pair at once: thousands of small groups would otherwise
    cost thousands of small operations)."""
    count = unit.shape[0]
    if count < 2:
        return Others(torch.full((count,), -1), torch.zeros(count), torch.zeros(count))
    if groups is not None:
        return _within_groups(unit, groups)
    parts = []
    for part in torch.arange(count).split(CHUNK):
        similarity = unit[part] @ unit.T
        similarity[torch.arange(len(part)), part] = -2.0  # not itself
        parts.append(similarity.topk(min(CROWD, count - 1), dim=1))
    values, indices = torch.cat([t.values for t in parts]), torch.cat([t.indices for t in parts])
    return Others(indices[:, 0], values[:, 0], values.mean(1))


def _within_groups(unit: torch.Tensor, groups: torch.Tensor) -> Others:
    """``nearest_others`` within groups: every ordered pair of distinct rows of one group, cosines in chunks,
    then each row's best and its ``CROWD`` best (a row alone in its group: index -1, cosines 0)."""
    order = groups.argsort(stable=True)
    sizes = torch.unique_consecutive(groups[order], return_counts=True)[1]
    size_of, start_of = sizes.repeat_interleave(sizes), (sizes.cumsum(0) - sizes).repeat_interleave(sizes)
    first = order.repeat_interleave(size_of)
    within = torch.arange(int(size_of.sum())) - (size_of.cumsum(0) - size_of).repeat_interleave(size_of)
    second = order[start_of.repeat_interleave(size_of) + within]
    first, second = first[first != second], second[first != second]
    cosines = torch.cat([(unit[a] * unit[b]).sum(1) for a, b in zip(first.split(CHUNK * 16), second.split(CHUNK * 16))]
                        or [torch.zeros(0)])
    ranked = torch.argsort(cosines, descending=True, stable=True)
    ranked = ranked[torch.argsort(first[ranked], stable=True)]  # by row, best first within a row
    rows, rank_start = first[ranked], torch.zeros(len(unit), dtype=torch.long)
    counts = torch.bincount(rows, minlength=len(unit))
    rank_start[1:] = counts.cumsum(0)[:-1]
    rank = torch.arange(len(rows)) - rank_start[rows]
    nearest, cosine = torch.full((len(unit),), -1), torch.zeros(len(unit))
    best = rank == 0
    nearest[rows[best]], cosine[rows[best]] = second[ranked][best], cosines[ranked][best]
    top = rank < CROWD
    crowding = torch.zeros(len(unit)).index_add_(0, rows[top], cosines[ranked][top])
    return Others(nearest, cosine, crowding / counts.clamp(max=CROWD).clamp_min(1))


def request_others(near: Neighbourhood, predicted: torch.Tensor) -> Others:
    """``Others`` of a request's predicted rows ``[Q, D]``: among all of them up to ``EXACT`` classes; above, among
    those sharing their two nearest seen classes (``near``), as near-twins do (all pairs of an ImageNet-21K
    request would take minutes)."""
    unit = F.normalize(predicted.float(), dim=1)
    if len(unit) <= EXACT:
        return nearest_others(unit)
    first, second = near.indices[:, 0], near.indices[:, min(1, near.indices.shape[1] - 1)]
    return nearest_others(unit, first * (int(near.indices.max()) + 1) + second)


def class_signals(
    near: Neighbourhood, pool_weight: torch.Tensor, predicted: torch.Tensor, others: Others | None = None
) -> torch.Tensor:
    """``[Q, len(SIGNALS)]`` signals of ``Q`` classes predicted together (columns in ``SIGNALS`` order).

    Args:
        near: the request's ``neighbourhood`` among the seen classes its classes are predicted from.
        pool_weight: ``[P, D]`` those seen classes' weight rows; predicted: ``[Q, D]`` the request's predicted
            weight rows (any scale); others: their ``request_others`` when already known.
    """
    unit_pool = F.normalize(pool_weight.float(), dim=1)
    unit_predicted = F.normalize(predicted.float(), dim=1)
    others = request_others(near, predicted) if others is None else others
    columns = [
        near.cosines[:, 0],
        torch.einsum("qk,qkd->qd", near.weights, unit_pool[near.indices]).norm(dim=1),
        torch.cat([(part @ unit_pool.T).max(1).values for part in unit_predicted.split(CHUNK)]),
        others.cosine,
        others.crowding,
    ]
    return torch.stack(columns, dim=1)
