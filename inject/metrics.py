"""Zero-shot evaluation on logits: ZSL top-1 and generalised (GZSL) seen/unseen/harmonic accuracy."""
from __future__ import annotations

from dataclasses import dataclass

import torch


def per_class_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over classes of the fraction of each class's samples predicted right (``[N]`` each)."""
    classes = labels.unique()
    return float(torch.stack([(predicted[labels == c] == c).float().mean() for c in classes]).mean())


def zsl_top1(logits: torch.Tensor, labels: torch.Tensor, unseen: torch.Tensor) -> float:
    """Per-class top-1 of the unseen-class samples among the ``unseen`` class indices only.

    ``logits`` ``[N, C]``, ``labels`` ``[N]``, ``unseen`` ``[K]`` class indices; samples of seen
    classes are ignored.
    """
    is_unseen = torch.isin(labels, unseen)
    predicted = unseen[logits[is_unseen][:, unseen].argmax(1)]
    return per_class_accuracy(predicted, labels[is_unseen])


@dataclass(frozen=True)
class GZSL:
    """Generalised zero-shot accuracy over all classes: seen, unseen and their harmonic mean."""

    seen: float
    unseen: float

    @property
    def harmonic(self) -> float:
        total = self.seen + self.unseen
        return 0.0 if total == 0 else 2 * self.seen * self.unseen / total


def gzsl(logits: torch.Tensor, labels: torch.Tensor, unseen: torch.Tensor, gamma: float = 0.0) -> GZSL:
    """GZSL accuracies with ``gamma`` added to the unseen logits (calibrated stacking)."""
    shifted = logits.clone()
    shifted[:, unseen] += gamma
    predicted = shifted.argmax(1)
    is_unseen = torch.isin(labels, unseen)
    return GZSL(
        seen=per_class_accuracy(predicted[~is_unseen], labels[~is_unseen]),
        unseen=per_class_accuracy(predicted[is_unseen], labels[is_unseen]),
    )
