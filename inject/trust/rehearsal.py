"""The rehearsal behind the per-class estimate: hide seen classes, predict them, score them on virtual photos.

Each split hides ``size`` seen classes (as many as the request has new classes), predicts their rows from
the kept ones as ``conse`` does (the knowledge step's neighbour power), and scores every hidden class on
virtual photos (the model of ``inject.virtual``: around its *true* row at the cosine of that row's nearest
neighbour, at the head's calibrated scale, as in the image-free offset) against

* the hidden classes' predicted rows: top-1 among the "new" classes;
* the kept rows plus the predicted ones with the offset ``gamma``: recognised at all in the extended head.

Half of the splits hide a random set, half a cluster (a random anchor and its nearest seen classes by
descriptor): a user's new classes are often of one kind (50 birds, 102 flowers), so their rows crowd each
other, which random sets rarely show. Nothing here looks at a photo or at the new classes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..virtual import nearest_row_cosine, scale_for_confidence
from .signals import class_signals, neighbours_of, predicted_rows

TOTAL = 800  # hidden classes scored over all splits
MAX_SPLITS = 100
PER_CLASS = 8  # virtual photos per hidden class: top-1 among the hidden ones, near chance on a handful
PER_CLASS_RECOGNISED = 2  # of them, scored against the whole extended head too (C + size rows: the costly part)
SCALE_CLASSES = 256  # seen classes the photo scale is set on
CONFIDENCE = 0.8  # mean true-class probability of virtual seen photos (as the virtual offset)


@dataclass(frozen=True)
class PhotoModel:
    """Virtual photos of a head: one ``scale`` and each seen class's nearest-row cosine ``[C]`` (its spread)."""

    scale: float
    nearest: torch.Tensor

    def photos(self, directions: torch.Tensor, classes: torch.Tensor, per: int, seed: int) -> torch.Tensor:
        """``[N * per, D]`` virtual photos around ``directions`` ``[N, D]`` at the spread of seen ``classes`` ``[N]``.

        A photo is ``scale * (m * u + sqrt(1 - m^2) * v)``: ``u`` the unit direction, ``m`` the class's
        nearest-row cosine, ``v`` a uniform unit vector orthogonal to ``u``. That is the vMF draw of
        ``inject.virtual`` at its mean cosine: with ``D`` in the hundreds the drawn cosine varies by a few
        hundredths, and float32 Gaussians make the rehearsal's thousands of photos four times cheaper.
        """
        unit = F.normalize(directions.float(), dim=1).repeat_interleave(per, dim=0)
        mean_cosine = self.nearest[classes].clamp(0.05, 0.95).repeat_interleave(per)[:, None]
        noise = torch.randn(unit.shape, generator=torch.Generator().manual_seed(seed))
        across = F.normalize(noise - (noise * unit).sum(1, keepdim=True) * unit, dim=1)
        return self.scale * (mean_cosine * unit + (1 - mean_cosine**2).sqrt() * across)


def photo_model(weight: torch.Tensor, bias: torch.Tensor, scale: float | None = None, seed: int = 0) -> PhotoModel:
    """The ``PhotoModel`` of a seen head (``weight`` ``[C, D]``, ``bias`` ``[C]``); ``scale``: one already chosen
    (the virtual offset records it), else set on ``SCALE_CLASSES`` sampled classes."""
    nearest = nearest_row_cosine(weight)
    if scale is None:
        classes = torch.randperm(weight.shape[0], generator=torch.Generator().manual_seed(seed))[:SCALE_CLASSES]
        unit = PhotoModel(1.0, nearest).photos(weight[classes], classes, 2, seed)
        scale = scale_for_confidence(unit, classes.repeat_interleave(2), weight, bias, CONFIDENCE)
    return PhotoModel(float(scale), nearest)


def photo_top1(logits: torch.Tensor, per: int, own: torch.Tensor) -> torch.Tensor:
    """``[N]``: the share of each class's ``per`` photos (``logits`` ``[N * per, M]``, class-major) whose best
    column is its ``own`` (``[N]`` column indices); ties split evenly."""
    mine = logits.gather(1, own.repeat_interleave(per)[:, None])[:, 0]
    best = logits.max(1).values
    won = (mine >= best).float() / (logits == best[:, None]).sum(1).float()
    return won.view(-1, per).mean(1)


def hidden_sets(count: int, size: int, spaces: tuple[torch.Tensor, ...], total: int = TOTAL, seed: int = 0) -> list[torch.Tensor]:
    """Seeded hidden sets of ``size`` of ``count`` seen classes, about ``total`` classes in all (at most
    ``MAX_SPLITS`` sets), taking turns: a random set, then for each of ``spaces`` (``[C, *]`` each: descriptors,
    rows) a random anchor's ``size`` nearest classes by cosine in that space."""
    generator = torch.Generator().manual_seed(seed)
    units = [F.normalize(space.float(), dim=1) for space in spaces]
    sets = []
    for split in range(min(MAX_SPLITS, max(1 + len(units), math.ceil(total / size)))):
        turn = split % (1 + len(units))
        if turn == 0:
            sets.append(torch.randperm(count, generator=generator)[:size])
        else:
            anchor = int(torch.randint(count, (1,), generator=generator))
            sets.append((units[turn - 1] @ units[turn - 1][anchor]).topk(size).indices)
    return sets


@dataclass(frozen=True)
class Rehearsal:
    """Hidden seen classes over all splits: ``signals`` ``[M, F]`` (``inject.trust.signals.SIGNALS``), the share of
    their virtual photos top-1 among the hidden ones ``[M]`` and recognised in the extended head ``[M]``;
    ``size``: classes hidden per split."""

    signals: torch.Tensor
    top1: torch.Tensor
    recognised: torch.Tensor
    size: int


def rehearse(
    descriptors: torch.Tensor, rows: torch.Tensor, power: float, size: int, gamma: float, photos: PhotoModel, seed: int = 0
) -> Rehearsal:
    """Rehearse injecting ``size`` classes at a time into the seen head.

    Args:
        descriptors: ``[C, E]`` seen descriptors; rows: ``[C, D + 1]`` seen ``[W | b]``.
        power: ``conse``'s neighbour power; gamma: the offset the new rows carry.
    """
    count, width = rows.shape[0], rows.shape[1] - 1
    rows = rows.float()
    weight, bias = rows[:, :width], rows[:, width]
    unit = F.normalize(descriptors.float(), dim=1)
    similarity, norms = unit @ unit.T, weight.norm(dim=1)
    signals, top1, recognised = [], [], []
    for split, hidden in enumerate(hidden_sets(count, size, (unit, weight), seed=seed)):
        kept = torch.ones(count, dtype=torch.bool).index_fill_(0, hidden, False)
        near = neighbours_of(similarity[hidden][:, kept], power)
        predicted = predicted_rows(near, rows[kept])
        new_weight = predicted[:, :width] * (norms[kept].mean() / predicted[:, :width].norm(dim=1, keepdim=True).clamp_min(1e-12))
        signals.append(class_signals(near, weight[kept], new_weight))
        shots = photos.photos(weight[hidden], hidden, PER_CLASS, seed + split)
        top1.append(photo_top1(shots @ new_weight.T + predicted[:, width], PER_CLASS, torch.arange(len(hidden))))
        few = shots.view(len(hidden), PER_CLASS, -1)[:, :PER_CLASS_RECOGNISED].reshape(-1, width)
        seen_logits = (few @ weight.T + bias).masked_fill(~kept, -math.inf)
        new_logits = few @ new_weight.T + predicted[:, width] + gamma
        recognised.append(photo_top1(torch.cat([seen_logits, new_logits], 1), PER_CLASS_RECOGNISED,
                                     count + torch.arange(len(hidden))))
    return Rehearsal(torch.cat(signals), torch.cat(top1), torch.cat(recognised), size)
