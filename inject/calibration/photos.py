"""The seen/unseen offset when the user gave photos of new classes but none of the seen ones.

* **Seen side: anchored virtual features.** Virtual features of the seen classes (``inject.virtual``:
  vMF draws around their rows) are centred on nothing, while real photo features share a large
  common component (features after a ReLU are all positive), which rows imprinted from photos also
  carry, so such rows score real photos of *any* class highly. The virtual seen features are
  therefore moved onto that common component, estimated from the user's photos
  (``common_component``) and scaled to the photos' feature norm. (Real EfficientNet-Lite0, one draw of
  5 CUB photos per species: at the offset plain virtual features chose, they kept 99.8% of their
  classes while the real ImageNet sample photos kept 61%.)
* **New side: held-out photos.** Each photo's logits from the seen rows and from new rows fitted
  without it (leave-photos-out, ``inject.photos.blend``), so photos do not vouch for rows they shaped.

The offset maximises the harmonic mean of the two accuracies, but never costs the anchored seen
features more than ``budget`` of their accuracy; with one photo per class (nothing held out) the
offset is that bound itself. docs/results.md reports the seen accuracy it costs on real photos.
"""
from __future__ import annotations

import torch

from ..virtual.features import nearest_row_cosine, virtual_features
from .base import Calibration
from .virtual import PER_CLASS, _gaps, best_offset, sampled_classes

# Seen accuracy the new classes may cost, on the anchored virtual features. Those under-count the loss on
# real seen photos about 3-4x (CUB-50 and Flowers-102 few-shot benchmark, 5 draws per k: a 1% budget cost
# 0.034-0.045 of real ImageNet-sample accuracy on CUB, 0.1% costs 0.024-0.028), and the harmonic mean is
# flat there (within 0.004 at every k on both sets), so the budget is tight.
BUDGET = 0.001
RIDGE = 0.02  # relative to the mean squared row norm


def common_component(weight: torch.Tensor, bias: torch.Tensor, mean: torch.Tensor, ridge: float = RIDGE) -> torch.Tensor:
    """The part of a photo-feature ``mean`` ``[D]`` that the seen head (``weight`` ``[C, D]``, ``bias`` ``[C]``) finds uninformative.

    A trained head scores the mean feature of its training photos almost uniformly (real EfficientNet-
    Lite0 on the ImageNet samples: logit spread 0.18 at the mean feature against 1.16 per photo), so the
    common component of all photo features lies where ``weight @ c + bias`` is constant. The mean of a
    few new classes' photos also carries what they share (birds look like the seen birds); projecting
    it onto that set (nearest point, ridge-regularised) removes that part.
    """
    residual = weight @ mean + bias
    residual = residual - residual.mean()
    gram = weight @ weight.T
    gram = gram + ridge * gram.diagonal().mean() * torch.eye(len(weight), dtype=gram.dtype)
    return mean - weight.T @ torch.linalg.solve(gram, residual)


def anchored_seen_features(weight: torch.Tensor, bias: torch.Tensor, photos: torch.Tensor, seed: int = 0):
    """(features ``[M, D]``, labels ``[M]``): virtual seen features moved onto the common component of ``photos`` ``[N, D]``."""
    classes = sampled_classes(len(weight), seed=seed)
    features, labels, _ = virtual_features(weight, bias, PER_CLASS, classes=classes, nearest=nearest_row_cosine(weight),
                                           seed=seed)
    scale = photos.norm(dim=1).mean() / features.norm(dim=1).mean()
    return common_component(weight, bias, photos.mean(0)) + features * scale, labels


def anchored_seen_gaps(
    seen_rows: torch.Tensor, new_weight: torch.Tensor, new_bias: torch.Tensor, photos: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The seen side of a photo offset: (best seen - best new logit ``[M]``, seen side right ``[M]``) of the virtual
    seen features anchored on ``photos`` ``[N, D]``, against the seen rows ``[C, D + 1]`` and new rows ``[K, D]`` / ``[K]``."""
    width = new_weight.shape[1]
    weight, bias = seen_rows[:, :width], seen_rows[:, width]
    features, labels = anchored_seen_features(weight, bias, photos)
    is_new = torch.arange(len(weight) + len(new_weight)) >= len(weight)
    seen_gap, seen_right, _ = _gaps(features, labels, torch.cat([weight, new_weight]), torch.cat([bias, new_bias]), is_new)
    return seen_gap, seen_right


def photo_gap(seen_rows: torch.Tensor, photos: torch.Tensor, new_logits: torch.Tensor) -> torch.Tensor:
    """``[N]`` best seen logit minus best new logit (``new_logits`` ``[N, K]``, no offset) of each photo ``[N, D]``:
    the photo goes to a new class at offsets above it. ``seen_rows``: ``[C, D + 1]`` seen ``[W | b]``."""
    width = photos.shape[1]
    return (photos @ seen_rows[:, :width].T + seen_rows[:, width]).max(1).values - new_logits.max(1).values


def seen_bound(seen_gap: torch.Tensor, seen_right: torch.Tensor, budget: float) -> float:
    """The largest offset at which at most ``budget`` of the seen features lose their (right) class."""
    gaps = seen_gap[seen_right].sort().values
    allowed = int(budget * len(seen_gap))
    return float(gaps[allowed]) if allowed < len(gaps) else float(gaps[-1]) if len(gaps) else 0.0


def photo_gamma(
    seen_rows: torch.Tensor, new_weight: torch.Tensor, new_bias: torch.Tensor, photos: torch.Tensor,
    held_out: torch.Tensor | None, labels: torch.Tensor, budget: float = BUDGET,
) -> Calibration:
    """The offset for new rows ``[K, D]`` / biases ``[K]`` (no offset yet).

    Args:
        seen_rows: ``[C, D + 1]`` seen ``[W | b]``.
        photos: ``[N, D]`` the photos' features; labels: ``[N]`` their new class in ``0..K-1``.
        held_out: ``[N, K]`` their new logits from rows fitted without them, in the head's units, or
            ``None`` (no class has two photos): the offset is then the seen bound.
    """
    seen_gap, seen_right = anchored_seen_gaps(seen_rows, new_weight, new_bias, photos)
    bound = seen_bound(seen_gap, seen_right, budget)
    details = {"photos": len(labels), "seen_bound": bound, "budget": budget, "held_out": held_out is not None}
    if held_out is None:
        return Calibration("photos", bound, details)
    new_gap = photo_gap(seen_rows, photos, held_out)
    gamma, seen_acc, new_acc = best_offset(seen_gap, seen_right, new_gap, held_out.argmax(1) == labels)
    return Calibration("photos", min(gamma, bound), {**details, "held_out_new_accuracy": new_acc})
