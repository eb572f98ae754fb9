"""The pipeline's photo step: text rows + the user's photos -> sharper rows, an offset, and a report."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from ..calibration.base import Calibration
from ..calibration.photos import photo_gamma
from ..errors import InjectError
from ..images import MIN_SIDE
from ..rows import NewRows, head_rows
from .rows import PhotoRows, photo_rows, report
from .support import Support

# Also fit on each photo's mirror image? Measured (docs/design.md): +0.004 to +0.01 top-1, at twice the
# forward passes; off, so 50 classes x 10 photos stay near the 30 s target on 2 cores.
MIRRORED = False


@dataclass(frozen=True)
class Shaped:
    """The rows after the photos, and the record of what they did (per class: photos, held-out top-1, confusions).

    ``features`` ``[N, D]`` / ``labels`` ``[N]``: the usable photos as the head sees them and their classes
    (``shape_rows`` keeps them for the unlabelled pile, which pools them in).
    """

    rows: NewRows
    record: dict[str, Any]
    features: torch.Tensor | None = None
    labels: torch.Tensor | None = None


def _features(target, support: Support, progress: bool) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(features ``[M, V, D]``, labels ``[M]``, notes) of the usable photos; an error when none is usable."""
    features, used, notes = target.features(support.photos, MIRRORED, progress)
    if not used:
        raise InjectError(f"none of the {len(support.photos)} photos of {support.where} could be used "
                          f"({notes[0] if notes else 'no photos'}); give readable images of at least {MIN_SIDE} px")
    return (features if features.dim() == 3 else features[:, None]), support.labels[used], notes


def _offset(shaped: PhotoRows, seen_weight: torch.Tensor, seen_bias: torch.Tensor, features: torch.Tensor,
            labels: torch.Tensor) -> Calibration:
    """The seen/unseen offset from the photos (``inject.calibration.photos``); view 0 is the photo as the head sees it."""
    return photo_gamma(head_rows(seen_weight, seen_bias), shaped.weight, shaped.bias, features[:, 0], shaped.held_out, labels)


def shape(
    rows: NewRows, features: torch.Tensor, labels: torch.Tensor, seen_weight: torch.Tensor, seen_bias: torch.Tensor,
    new_names: Sequence[str], choose_offset: bool,
) -> Shaped:
    """``rows`` (text-predicted, offset included) reshaped by photo features ``[N, V, D]`` of classes ``labels`` ``[N]``.

    ``choose_offset``: pick the offset on the photos (``inject.calibration.photos``); otherwise keep ``rows``'s.
    """
    seen_weight, seen_bias = seen_weight.float(), seen_bias.float()
    shaped = photo_rows(rows.weight.float(), rows.bias.float() - rows.gamma, seen_weight, features, labels)
    calibration = _offset(shaped, seen_weight, seen_bias, features, labels) if choose_offset else rows.calibration
    dtype = rows.weight.dtype
    new = NewRows(shaped.weight.to(dtype), (shaped.bias + calibration.gamma).to(dtype), calibration)
    record = {"photos": int(len(labels)), "views": int(features.shape[1]), "pull": shaped.pull,
              "prior_strength": shaped.strength, "per_class": report(shaped, labels, new_names)}
    return Shaped(new, record)


def shape_rows(
    target, rows: NewRows, support: Support, seen_weight: torch.Tensor, seen_bias: torch.Tensor | None,
    new_names: Sequence[str], choose_offset: bool, progress: bool = False,
) -> Shaped:
    """``shape`` with the features of ``support``'s photos, run through ``target``'s model; skipped photos noted."""
    if seen_bias is None:
        raise InjectError(f"head '{target.head_path}' of {target.where} has no bias, so rows from photos "
                          "(images / --images) cannot be written; inject from names alone")
    features, labels, notes = _features(target, support, progress)
    shaped = shape(rows, features, labels, seen_weight, seen_bias, new_names, choose_offset)
    return Shaped(shaped.rows, {**shaped.record, "skipped": notes}, features[:, 0], labels)
