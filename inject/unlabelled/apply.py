"""The pipeline's pile step: text rows (and any labelled photos) + an unlabelled pile -> adapted rows, offset, record."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from ..errors import InjectError
from ..mappers import Mapper
from ..rows import NewRows, head_rows
from .pile import Pile, gather_pile, unreadable_error
from .rehearsal import choose_strength
from .report import per_class
from .rows import adapt_rows


@dataclass(frozen=True)
class Unlabelled:
    """The rows after the pile and the record of what it did (``record['per_class']``: photos, name agreement)."""

    rows: NewRows
    record: dict[str, Any]


@dataclass(frozen=True)
class Knowledge:
    """What the rehearsal needs of the text side: the ``mapper`` that predicted the rows and the seen ``[C, E]``
    ``descriptors``."""

    mapper: Mapper
    descriptors: torch.Tensor


def pile_of(unlabelled: Any, target, has_bias: bool) -> Pile | None:
    """The pile of ``unlabelled`` (``None`` without), checked before any encoding or fit."""
    if unlabelled is None:
        return None
    if not has_bias:
        raise InjectError(f"head '{target.head_path}' of {target.where} has no bias, so unlabelled photos "
                          "(unlabelled / --unlabelled-images) have no offset to set; inject from names alone")
    target.check_runnable("--unlabelled-images")
    return gather_pile(unlabelled)


def _pile_features(target, pile: Pile, progress: bool) -> torch.Tensor:
    features, _, notes = target.features(pile.photos, False, progress)
    if notes:
        raise unreadable_error(notes, pile)
    return features


def _pooled(features: torch.Tensor, shaped) -> tuple[torch.Tensor, torch.Tensor]:
    """(features ``[M + N, D]``, fixed class ``[M + N]``): the labelled photos first (their class), then the pile (``-1``)."""
    free = torch.full((len(features),), -1, dtype=torch.long)
    if shaped is None or shaped.features is None:
        return features, free
    return torch.cat([shaped.features, features]), torch.cat([shaped.labels, free])


def adapt(
    rows: NewRows, seen_weight: torch.Tensor, seen_bias: torch.Tensor, features: torch.Tensor, fixed: torch.Tensor,
    names: Sequence[str], knowledge: Knowledge, choose_offset: bool = True,
) -> Unlabelled:
    """``rows`` adapted to pooled photo features ``[N, D]``: ``fixed`` ``[N]`` a class per labelled photo, ``-1`` for
    the pile's. ``choose_offset``: the pile chooses the offset (otherwise ``rows``'s calibration is kept, to be
    replaced by ``calibrate_images``)."""
    seen_weight, seen_bias = seen_weight.float(), seen_bias.float()
    free = fixed < 0
    rehearsed = choose_strength(knowledge.mapper, head_rows(seen_weight, seen_bias), knowledge.descriptors.float(),
                                len(names), int(free.sum()))
    adapted = adapt_rows(rows.weight.float(), (rows.bias - rows.gamma).float(), seen_weight, seen_bias, features,
                         rehearsed.strength, fixed)
    calibration = adapted.calibration if choose_offset else rows.calibration
    bias = adapted.bias - adapted.calibration.gamma + calibration.gamma
    new = NewRows(adapted.weight.to(rows.weight.dtype), bias.to(rows.weight.dtype), calibration)
    record = {"photos": int(free.sum()), "labelled_pooled": int((~free).sum()),
              "left_to_seen": int((adapted.labels[free] < 0).sum()), "strength": rehearsed.strength,
              "rehearsal_top1": {f"{k:g}": round(v, 4) for k, v in rehearsed.scores.items()},
              "offset": adapted.calibration.record(), "per_class": per_class(adapted, free, names)}
    return Unlabelled(new, record)


def adapt_to_pile(
    target, pile: Pile | None, rows: NewRows, seen_weight: torch.Tensor, seen_bias: torch.Tensor | None,
    names: Sequence[str], knowledge: Knowledge, shaped=None, choose_offset: bool = True, progress: bool = False,
) -> Unlabelled | None:
    """``adapt`` on the features of ``pile``'s photos run through ``target``'s model, pooled with the labelled photos
    of ``shaped`` (``inject.photos.apply.Shaped``) if any; ``None`` without a pile."""
    if pile is None:
        return None
    features, fixed = _pooled(_pile_features(target, pile, progress), shaped)
    return adapt(rows, seen_weight, seen_bias, features, fixed, names, knowledge, choose_offset)
