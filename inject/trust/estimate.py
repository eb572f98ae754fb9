"""The per-class estimate: relate the rehearsal's signals to its virtual outcomes, apply the relation to the new classes.

For each new class ``k`` of a request of ``K``:

* ``expected_top1``: the expected share of its photos that are top-1 among the ``K`` new classes;
* ``expected_recognised``: the expected share recognised at all in the extended head (``C + K`` outputs,
  the offset applied);
* ``near_chance``: the probability that its top-1 is at most twice chance (``near_chance_level``).

All three are logistic relations (``relation.py``, on ``RELATION_SIGNALS``; the two shares on their pairwise
products too) fitted on the rehearsal's hidden seen classes
(``rehearsal.py``, hidden ``K`` at a time: their share of virtual photos, and whether that share is at most
``2 / K``) and applied to the new classes' signals (``signals.py``). ``near_chance`` is not read off
``expected_top1``: shares are skewed (a row points at its class's photos or it does not), so a class can
expect 0.2 and still be more likely than not to sit at chance.

A new class resolved to the very synset of a seen class (CUB's "Indigo Bunting" is ImageNet's indigo bunting)
has no counterpart in the rehearsal, which hides distinct classes; its photos are modelled as the seen class's
virtual photos instead, scored against the new rows and the extended head directly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from .rehearsal import PhotoModel, photo_top1, rehearse
from .relation import fit_relation, quadratic
from .signals import CLASS_SIGNALS, SIGNALS, Others, class_signals, neighbourhood, request_others

DUPLICATE_PHOTOS = 32  # virtual photos per new class that duplicates a seen class
# The relations' signals (one class alone: its class signals only). The nearest seen description is left out:
# without it the B1 AUC rose on all 3 fold seeds of both backbones (docs/design.md). The shares take the signals'
# pairwise products too; ``near_chance`` stays linear, so a nearer twin can never make a warning less likely.
RELATION_SIGNALS = ("neighbour_agreement", "nearest_seen_row", "nearest_new_row", "crowding")
# Real photos sit near chance more often than the rehearsal's virtual ones (B1: 0.60-0.65 of classes against a
# mean rehearsed probability of 0.29-0.36). The one constant fitted on photos, on B1 folds only: a shift of
# the near-chance log-odds that flags a class from a rehearsed 0.3 on, the highest threshold (0.05 steps)
# giving warnings recall >= 0.5 and precision >= 0.7 on every B1 fold seed of both backbones (docs/design.md).
NEAR_CHANCE_SHIFT = math.log(0.7 / 0.3)


@dataclass(frozen=True)
class Estimate:
    """Per new class (``[K]`` each): ``expected_top1``, ``expected_recognised``, ``near_chance``; ``signals``
    ``[K, F]``; ``chance``: ``1 / K``; ``rehearsed``: the rehearsal's signals ``[M, F]`` (what "usual" is);
    ``others``: the new rows' nearest other new row and its cosine (``inject.trust.signals.Others``)."""

    expected_top1: torch.Tensor
    expected_recognised: torch.Tensor
    near_chance: torch.Tensor
    signals: torch.Tensor
    chance: float
    rehearsed: torch.Tensor
    others: Others


def near_chance_level(count: int) -> float:
    """The top-1 among ``count`` classes that counts as near chance: twice chance, ``2 / count``, but at most
    halfway from chance to certain (two classes: 0.75, not every possible share)."""
    return min(2.0 / count, (1.0 + 1.0 / count) / 2)


def _duplicates(
    estimate: dict[str, torch.Tensor], duplicates: Sequence[int | None], rows: torch.Tensor,
    new_weight: torch.Tensor, new_bias: torch.Tensor, photos: PhotoModel, seed: int,
) -> None:
    """Overwrite, in ``estimate``, the classes whose ``duplicates`` entry names a seen row: their photos are that
    seen class's virtual photos, scored among the new rows and in the extended head (``rows``: seen ``[W | b]``)."""
    pairs = [(k, c) for k, c in enumerate(duplicates) if c is not None]
    if not pairs:
        return
    own, seen = (torch.tensor(side) for side in zip(*pairs))
    width = new_weight.shape[1]
    shots = photos.photos(rows[seen, :width].float(), seen, DUPLICATE_PHOTOS, seed)
    estimate["top1"][own] = photo_top1(shots @ new_weight.T + new_bias, DUPLICATE_PHOTOS, own)
    estimate["near_chance"][own] = (estimate["top1"][own] <= near_chance_level(len(new_weight))).float()
    everything = torch.cat([shots @ rows[:, :width].float().T + rows[:, width].float(), shots @ new_weight.T + new_bias], 1)
    estimate["recognised"][own] = photo_top1(everything, DUPLICATE_PHOTOS, rows.shape[0] + own)


def estimate_classes(
    seen_descriptors: torch.Tensor,
    seen_rows: torch.Tensor,
    new_descriptors: torch.Tensor,
    new_weight: torch.Tensor,
    new_bias: torch.Tensor,
    gamma: float,
    power: float,
    photos: PhotoModel,
    duplicates: Sequence[int | None] = (),
    seed: int = 0,
) -> Estimate:
    """The per-class estimate for ``K`` new classes of a seen head.

    Args:
        seen_descriptors: ``[C, E]``; seen_rows: ``[C, D + 1]`` seen ``[W | b]``.
        new_descriptors: ``[K, E]``; new_weight ``[K, D]`` / new_bias ``[K]``: the rows written (offset included).
        gamma: the offset in ``new_bias``; power: ``conse``'s neighbour power (the rehearsal predicts as ``conse``).
        photos: the head's virtual photos (``rehearsal.photo_model``).
        duplicates: per new class, the seen row it is the same synset as, or ``None``.
    """
    count, width = new_weight.shape[0], seen_rows.shape[1] - 1
    near = neighbourhood(new_descriptors, seen_descriptors, power)
    others = request_others(near, new_weight)
    signals = class_signals(near, seen_rows[:, :width], new_weight, others)
    used = [SIGNALS.index(name) for name in RELATION_SIGNALS if count > 1 or name in CLASS_SIGNALS]
    rehearsal = rehearse(seen_descriptors, seen_rows, power, max(2, min(count, seen_rows.shape[0] // 5)), gamma, photos, seed)
    outcomes = {"top1": rehearsal.top1, "recognised": rehearsal.recognised,
                "near_chance": (rehearsal.top1 <= near_chance_level(rehearsal.size)).float()}
    rehearsed, requested = rehearsal.signals[:, used], signals[:, used]
    # within what the rehearsal saw: products would extrapolate wildly (two new classes with one row, cosine 1)
    requested = torch.maximum(torch.minimum(requested, rehearsed.max(0).values), rehearsed.min(0).values)
    shapes = {"top1": quadratic, "recognised": quadratic, "near_chance": lambda x: x}
    found = {name: fit_relation(shapes[name](rehearsed), outcome)(shapes[name](requested))
             for name, outcome in outcomes.items()}
    found["near_chance"] = torch.sigmoid(torch.logit(found["near_chance"].double()) + NEAR_CHANCE_SHIFT).float()
    _duplicates(found, list(duplicates) or [None] * count, seen_rows, new_weight.float(), new_bias.float(), photos, seed)
    if count == 1:  # the only new class is top-1 among the new ones whatever its photos
        found["top1"], found["near_chance"] = torch.ones(1), torch.zeros(1)
    return Estimate(found["top1"], found["recognised"], found["near_chance"], signals, 1.0 / count, rehearsal.signals,
                    others)
