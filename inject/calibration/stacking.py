"""Calibration with labelled photos: calibrated stacking (Chao et al. 2016) on their logits (``inject.images``)."""
from __future__ import annotations

import torch

from ..errors import InjectError
from ..metrics import seen_unseen_curve
from .base import Calibration


def stacking_gamma(logits: torch.Tensor, labels: torch.Tensor, new_classes: torch.Tensor) -> Calibration:
    """The offset for the ``new_classes`` columns that maximises the harmonic mean on these photos.

    ``logits`` ``[N, C + K]`` without any offset, ``labels`` ``[N]``, ``new_classes`` ``[K]`` indices.
    Needs photos of at least one seen and one new class.
    """
    is_new = torch.isin(labels, new_classes)
    if is_new.all() or not is_new.any():
        side = "new" if is_new.all() else "seen"
        raise InjectError(f"the calibration photos are all of {side} classes; add photos of at least one "
                          f"{'seen' if side == 'new' else 'new'} class")
    curve = seen_unseen_curve(logits, labels, new_classes)
    gamma, harmonic = curve.best()
    return Calibration("images", gamma, {"photos": len(labels), "classes": int(labels.unique().numel()),
                                         "harmonic_mean_on_photos": harmonic})
