"""The seen/unseen offset from an unlabelled pile of photos of the new classes (``--unlabelled-images``).

The same two sides as the offset from labelled photos (``inject.calibration.photos``), without labels:

* seen side: virtual seen features moved onto the common component of the pile's features
  (``anchored_seen_features``), scored against the seen rows plus the new rows;
* new side: the pile itself. A pile photo counts once it goes to *any* new class: which one is the
  rows' business, the offset only decides between seen and new.

The offset maximises the harmonic mean of the two shares, capped so the anchored seen features lose at
most ``budget`` of their accuracy (the labelled photos' budget). Photos of seen classes mixed into the
pile count as new here; they are few, their own seen logits are high, and the cap bounds what they can
pull. ``pile_sides`` says which pile photos the extended head leaves to the seen classes at an offset.
"""
from __future__ import annotations

import torch

from .base import Calibration
from .photos import BUDGET, anchored_seen_features, seen_bound
from .virtual import _gaps, best_offset


def pile_gap(seen_rows: torch.Tensor, photos: torch.Tensor, new_logits: torch.Tensor) -> torch.Tensor:
    """``[N]`` best seen logit minus best new logit (``new_logits`` ``[N, K]``, no offset) of each photo ``[N, D]``:
    the photo goes to a new class at offsets above it. ``seen_rows``: ``[C, D + 1]`` seen ``[W | b]``."""
    width = photos.shape[1]
    seen = photos @ seen_rows[:, :width].T + seen_rows[:, width]
    return seen.max(1).values - new_logits.max(1).values


def pile_gamma(
    seen_rows: torch.Tensor, new_weight: torch.Tensor, new_bias: torch.Tensor, photos: torch.Tensor,
    new_logits: torch.Tensor, budget: float = BUDGET,
) -> Calibration:
    """The offset for new rows ``[K, D]`` / biases ``[K]`` (no offset yet) from pile features ``photos`` ``[N, D]``.

    ``seen_rows``: ``[C, D + 1]`` seen ``[W | b]``; ``new_logits`` ``[N, K]``: the photos' new logits from rows
    each photo did not shape (``inject.unlabelled.rows.held_out_logits``), so a photo does not vouch for its row.
    """
    width = new_weight.shape[1]
    weight, bias = seen_rows[:, :width], seen_rows[:, width]
    features, labels = anchored_seen_features(weight, bias, photos)
    is_new = torch.arange(len(weight) + len(new_weight)) >= len(weight)
    seen_gap, seen_right, _ = _gaps(features, labels, torch.cat([weight, new_weight]), torch.cat([bias, new_bias]), is_new)
    bound = seen_bound(seen_gap, seen_right, budget)
    new_gap = pile_gap(seen_rows, photos, new_logits)
    gamma, seen_share, new_share = best_offset(seen_gap, seen_right, new_gap, torch.ones(len(new_gap), dtype=torch.bool))
    chosen = min(gamma, bound)
    details = {"pile": len(photos), "seen_bound": bound, "budget": budget, "harmonic_best": gamma,
               "pile_to_new": round(float((new_gap < chosen).float().mean()), 4),
               "virtual_seen_kept": round(float((seen_gap[seen_right] > chosen).sum() / len(seen_gap)), 4)}
    return Calibration("unlabelled", chosen, details)
