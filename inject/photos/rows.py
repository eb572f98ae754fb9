"""Photos + text-predicted rows -> the new rows in the head's geometry, with what the photos say about them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from .blend import SCALE, STRENGTH, choose_pull, fit_rows, prior_directions

CONFUSIONS = 2  # other classes listed per class in the report


@dataclass(frozen=True)
class PhotoRows:
    """New rows shaped by photos.

    Attributes:
        weight: ``[K, D]`` rows, mean norm of the seen rows; bias: ``[K]`` before any seen/unseen offset.
            Classes without photos keep their text rows.
        counts: photos per class ``[K]``; pull / strength: the blend's settings (``inject.photos.blend``).
        held_out: ``[N, K]`` leave-photos-out logits of the photos in the head's units, ``None`` when no
            class has two photos.
        factor: head units per unit of the regression's ``x @ w + b``.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    counts: torch.Tensor
    pull: float
    strength: float
    held_out: torch.Tensor | None
    factor: float


def head_geometry(
    unit_weight: torch.Tensor, unit_bias: torch.Tensor, seen_weight: torch.Tensor, feature_norm: float
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(rows ``[K, D]``, biases ``[K]``, factor): rows scoring unit features, moved onto raw features at the
    seen rows' mean norm.

    Rows ``unit_weight`` ``[K, D]`` / ``unit_bias`` ``[K]`` score unit features ``x = f / |f|``: ``x @ w + b``.
    With ``|f|`` taken as the photos' mean feature norm, rows ``factor / |f| * w`` and biases ``factor * b``
    give the same scores times ``factor``, which is set so that the rows' mean norm is the seen rows'.
    """
    factor = float(seen_weight.norm(dim=1).mean() * feature_norm / unit_weight.norm(dim=1).mean())
    return unit_weight * (factor / feature_norm), unit_bias * factor, factor


def photo_rows(
    text_weight: torch.Tensor, text_bias: torch.Tensor, seen_weight: torch.Tensor,
    features: torch.Tensor, labels: torch.Tensor, strength: float = STRENGTH,
) -> PhotoRows:
    """Rows for ``K`` new classes from their text rows (``[K, D]``, ``[K]``) and photo features.

    ``features`` ``[N, D]`` or ``[N, V, D]`` (``V`` views per photo), ``labels`` ``[N]`` in ``0..K-1``;
    ``seen_weight`` ``[C, D]`` sets the geometry.
    """
    pull, held_out = choose_pull(features, labels, text_weight, strength=strength)
    centre = prior_directions(text_weight, features, labels, strength)
    fitted = fit_rows(features, labels, centre, pull)
    flat = features.reshape(-1, features.shape[-1])
    weight, bias, factor = head_geometry(fitted.weight, fitted.bias, seen_weight, float(flat.norm(dim=1).mean()))
    counts = torch.bincount(labels, minlength=len(text_weight))
    has = counts > 0
    weight = torch.where(has[:, None], weight, text_weight.float())
    bias = torch.where(has, bias, text_bias.float())
    scaled = None if held_out is None else held_out * (factor / SCALE)
    return PhotoRows(weight, bias, counts, pull, strength, scaled, factor)


def report(rows: PhotoRows, labels: torch.Tensor, names: Sequence[str]) -> dict[str, Any]:
    """Per class with photos: photos, leave-photos-out top-1 among the new classes and the classes it is taken for."""
    out: dict[str, Any] = {}
    predicted = None if rows.held_out is None else rows.held_out.argmax(1)
    for k, name in enumerate(names):
        mine = labels == k
        if not mine.any():
            continue
        entry: dict[str, Any] = {"photos": int(mine.sum())}
        if predicted is not None and int(mine.sum()) >= 2:
            entry["held_out_top1"] = round(float((predicted[mine] == k).float().mean()), 3)
            wrong = predicted[mine][predicted[mine] != k]
            common = torch.bincount(wrong, minlength=len(names)).topk(min(CONFUSIONS, len(names)))
            entry["confused_with"] = [names[i] for i, c in zip(common.indices.tolist(), common.values.tolist()) if c > 0]
        out[name] = entry
    return out
