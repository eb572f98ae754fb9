"""Zero-shot evaluation on logits: ZSL top-1, generalised (GZSL) seen/unseen/harmonic accuracy, and a paired
bootstrap interval for differences of per-class scores."""
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


@dataclass(frozen=True)
class SeenUnseenCurve:
    """GZSL accuracy as the unseen offset gamma sweeps over every value where a prediction flips.

    Attributes:
        gammas: ``[M]`` increasing offsets; ``seen`` / ``unseen``: ``[M]`` per-class accuracies at each.
    """

    gammas: torch.Tensor
    seen: torch.Tensor
    unseen: torch.Tensor

    @property
    def harmonic(self) -> torch.Tensor:
        return 2 * self.seen * self.unseen / (self.seen + self.unseen).clamp_min(1e-12)

    def best(self) -> tuple[float, float]:
        """(offset, harmonic mean) at the best point: the "oracle" calibration."""
        index = int(self.harmonic.argmax())
        return float(self.gammas[index]), float(self.harmonic[index])

    def area(self) -> float:
        """AUSUC: area under unseen-vs-seen accuracy (Chao et al. 2016)."""
        order = torch.argsort(self.seen)
        return float(torch.trapezoid(self.unseen[order], self.seen[order]))


def seen_unseen_curve(logits: torch.Tensor, labels: torch.Tensor, unseen: torch.Tensor) -> SeenUnseenCurve:
    """The exact seen-unseen curve of ``logits`` ``[N, C]`` (Chao et al. 2016), per-class averaged.

    A sample goes to the unseen side once gamma exceeds ``d = max seen logit - max unseen logit``;
    sorting ``d`` gives every breakpoint, with cumulative sums of per-class-weighted hits.
    """
    is_unseen_class = torch.zeros(logits.shape[1], dtype=torch.bool)
    is_unseen_class[unseen] = True
    seen_logits = logits.masked_fill(is_unseen_class, float("-inf"))
    unseen_logits = logits.masked_fill(~is_unseen_class, float("-inf"))
    gap = seen_logits.max(1).values - unseen_logits.max(1).values
    hit_seen = (seen_logits.argmax(1) == labels).double()
    hit_unseen = (unseen_logits.argmax(1) == labels).double()
    sample_is_unseen = is_unseen_class[labels]
    weight = torch.zeros_like(hit_seen)
    for group in (sample_is_unseen, ~sample_is_unseen):
        classes, counts = labels[group].unique(return_counts=True)
        per_class = torch.zeros(logits.shape[1], dtype=weight.dtype)
        per_class[classes] = 1.0 / (counts.double() * len(classes))
        weight[group] = per_class[labels[group]]
    order = torch.argsort(gap)
    gap, seen_gain, unseen_gain = gap[order], (hit_seen * weight * ~sample_is_unseen)[order], (hit_unseen * weight * sample_is_unseen)[order]
    # gamma just above gap[i]: samples 0..i have flipped to the unseen side
    unseen_acc = torch.cat([torch.zeros(1, dtype=weight.dtype), unseen_gain.cumsum(0)])
    seen_acc = seen_gain.sum() - torch.cat([torch.zeros(1, dtype=weight.dtype), seen_gain.cumsum(0)])
    gammas = torch.cat([gap[:1] - 1, gap + 1e-6 * gap.abs().clamp_min(1)])
    return SeenUnseenCurve(gammas.double(), seen_acc, unseen_acc)


def paired_bootstrap(
    ours: torch.Tensor, other: torch.Tensor, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``ours - other`` over ``N`` paired per-class scores (``[N]`` each) and its percentile bootstrap
    interval at ``level``: classes are resampled with replacement ``resamples`` times (seeded, so repeatable).

    Says how far a difference measured on few classes can be trusted: with 16 classes one class
    moves a mean by 1/16.
    """
    if ours.shape != other.shape or ours.dim() != 1 or ours.numel() == 0:
        raise ValueError(f"paired_bootstrap needs two non-empty [N] tensors of one shape, got {tuple(ours.shape)} and {tuple(other.shape)}")
    difference = (ours - other).double()
    draws = torch.randint(len(difference), (resamples, len(difference)), generator=torch.Generator().manual_seed(seed))
    means = difference[draws].mean(1)
    tail = (1 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=means.dtype)).tolist()
    return float(difference.mean()), low, high
