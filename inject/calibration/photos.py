"""The seen/unseen offset when the user gave photos of new classes but none of the seen ones.

The new side is real: each photo's logits from the seen rows and from new rows fitted without it
(leave-photos-out, ``inject.photos.blend``), so the photos do not vouch for rows they shaped. The seen
side is virtual, as in the image-free calibration (``inject.calibration.virtual``): features drawn
around the seen rows, which must keep their class against the seen rows plus the new ones. The offset
maximises the harmonic mean of the two accuracies.
"""
from __future__ import annotations

import torch

from ..virtual.features import nearest_row_cosine, virtual_features
from .base import Calibration
from .virtual import _gaps, best_offset

PER_CLASS = 4
MAX_CLASSES = 2000


def photo_gamma(
    seen_rows: torch.Tensor, new_weight: torch.Tensor, new_bias: torch.Tensor,
    photo_seen_logits: torch.Tensor, photo_new_logits: torch.Tensor, labels: torch.Tensor, seed: int = 0,
) -> Calibration:
    """The offset for new rows ``[K, D]`` / biases ``[K]`` (no offset yet) from ``N`` held-out photos.

    Args:
        seen_rows: ``[C, D + 1]`` seen ``[W | b]``.
        photo_seen_logits: ``[N, C]`` seen logits of the photos; photo_new_logits: ``[N, K]`` their new
            logits from rows fitted without them, in the head's units; labels: ``[N]`` in ``0..K-1``.
    """
    width = new_weight.shape[1]
    weight, bias = seen_rows[:, :width], seen_rows[:, width]
    count = weight.shape[0]
    classes = torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:MAX_CLASSES].sort().values
    features, seen_labels, scale = virtual_features(weight, bias, PER_CLASS, classes=classes,
                                                    nearest=nearest_row_cosine(weight), seed=seed)
    is_new = torch.arange(count + len(new_weight)) >= count
    seen_gap, seen_right, _ = _gaps(features, seen_labels, torch.cat([weight, new_weight]), torch.cat([bias, new_bias]), is_new)
    new_gap = photo_seen_logits.max(1).values - photo_new_logits.max(1).values
    new_right = photo_new_logits.argmax(1) == labels
    gamma, seen_acc, new_acc = best_offset(seen_gap, seen_right, new_gap, new_right)
    return Calibration("photos", gamma, {"photos": len(labels), "virtual_seen_accuracy": seen_acc,
                                         "held_out_new_accuracy": new_acc, "scale": scale})
