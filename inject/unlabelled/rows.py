"""Text rows + an unlabelled pile -> rows adapted to how the pile clusters, and the offset: pure tensor functions.

1. **Clusters** (``inject.unlabelled.clusters``): spherical k-means on the pile's centred unit features,
   started from the text rows' balanced assignment, so each cluster keeps the name of the rows that
   first claimed its photos.
2. **Rows.** Each class's row is its text row's direction updated by the photos of its cluster, the
   conjugate von Mises-Fisher update the labelled photos use (``inject.photos.blend.prior_directions``):
   ``normalize(strength * prior + sum of unit features)``, moved into the head's geometry
   (``inject.photos.rows.head_geometry``), with the bias that makes it score features less the pile's mean. ``strength`` (the pull towards the text prior, in photos) is
   chosen without labels (``inject.unlabelled.rehearsal``).
3. **Offset** (``inject.calibration.pile``): the pile should go to the new classes, the anchored virtual
   seen features keep their accuracy within the seen-loss budget.
4. **Seen photos in the pile.** The pile's photos that the extended head still leaves to a seen class
   at that offset (photos of seen classes mixed in, and new photos no new row wins) are taken out and
   steps 1-3 run once more on the rest, so they neither shape a row nor split a cluster.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..calibration.base import Calibration
from ..calibration.photos import photo_gap
from ..calibration.pile import pile_gamma
from ..photos.blend import prior_directions
from ..photos.rows import head_geometry
from ..rows import head_rows
from .clusters import cluster_labels


@dataclass(frozen=True)
class Adapted:
    """New rows after the pile.

    Attributes:
        weight: ``[K, D]``; bias: ``[K]`` with the offset; calibration: how the offset was chosen.
        labels: ``[N]`` each pile photo's new class, ``-1`` for photos left to the seen classes.
        text_labels: ``[N]`` the class the text rows alone gave each photo (the start's own argmax).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    calibration: Calibration
    labels: torch.Tensor
    text_labels: torch.Tensor

    @property
    def counts(self) -> torch.Tensor:
        """Pile photos per new class ``[K]``."""
        return torch.bincount(self.labels[self.labels >= 0], minlength=len(self.weight))


@dataclass(frozen=True)
class PileRows:
    """Rows from a clustered pile: ``weight`` ``[K, D]``, ``bias`` ``[K]`` (no offset), and ``held_out`` ``[N, K]``:
    each photo's new logits from rows it did not shape (its own class's row rebuilt without it)."""

    weight: torch.Tensor
    bias: torch.Tensor
    held_out: torch.Tensor


def pile_rows(
    text_weight: torch.Tensor, seen_weight: torch.Tensor, features: torch.Tensor, labels: torch.Tensor, strength: float
) -> PileRows:
    """Text directions ``[K, D]`` updated by the photos ``[N, D]`` of each class (``labels`` ``[N]``), at the seen
    rows' mean norm, scoring features less the photos' mean (bias ``-row . mean``), with the photos' held-out logits.

    Without the centring a row made of many photos sits nearer the mean of all features than one made of a few,
    and outscores it on every photo: labelled classes with two photos lost their test photos to pile clusters.
    """
    unit = prior_directions(text_weight, features, labels, strength)
    feature_norm = float(features.norm(dim=1).mean())
    weight, _, factor = head_geometry(unit, torch.zeros(len(unit)), seen_weight, feature_norm)
    centre = features.mean(0)
    bias = -(weight @ centre)
    sums = strength * F.normalize(text_weight, dim=1)
    sums = sums.index_add(0, labels, F.normalize(features, dim=1))
    without = F.normalize(sums[labels] - F.normalize(features, dim=1), dim=1)  # own row less the photo itself
    held_out = features @ weight.T + bias
    held_out[torch.arange(len(labels)), labels] = (factor / feature_norm) * ((features - centre) * without).sum(1)
    return PileRows(weight, bias, held_out)


def _one_pass(text_weight, text_bias, seen_rows, features, fixed, strength, start):
    width = text_weight.shape[1]
    labels = cluster_labels(features, features @ text_weight.T + text_bias, start, fixed)
    rows = pile_rows(text_weight, seen_rows[:, :width], features, labels, strength)
    return rows, labels, pile_gamma(seen_rows, rows.weight, rows.bias, features, rows.held_out)


def adapt_rows(
    text_weight: torch.Tensor, text_bias: torch.Tensor, seen_weight: torch.Tensor, seen_bias: torch.Tensor,
    features: torch.Tensor, strength: float, fixed: torch.Tensor | None = None, start: str = "balanced",
) -> Adapted:
    """The module's steps 1-4 for text rows ``[K, D]`` / biases ``[K]`` (no offset) and pile features ``[N, D]``.

    ``fixed`` ``[N]``: a class for photos whose class is known (labelled photos pooled in), ``-1`` for the pile's;
    ``start``: how the clusters start (``inject.unlabelled.clusters``).
    """
    fixed = torch.full((len(features),), -1, dtype=torch.long) if fixed is None else fixed
    seen_rows = head_rows(seen_weight, seen_bias)
    rows, labels, chosen = _one_pass(text_weight, text_bias, seen_rows, features, fixed, strength, start)
    kept = (photo_gap(seen_rows, features, rows.held_out) < chosen.gamma) | (fixed >= 0)
    if len(text_weight) <= kept.sum() < len(kept):
        rows, labels, chosen = _one_pass(text_weight, text_bias, seen_rows, features[kept], fixed[kept], strength, start)
    else:  # nothing left to the seen classes, or nearly everything: the first pass stands
        kept = torch.ones_like(kept)
    all_labels = torch.full((len(features),), -1, dtype=torch.long)
    all_labels[kept] = labels
    text_labels = (features @ text_weight.T + text_bias).argmax(1)
    return Adapted(rows.weight, rows.bias + chosen.gamma, chosen, all_labels, text_labels)
