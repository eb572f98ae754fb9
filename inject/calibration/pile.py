"""The seen/unseen offset from an unlabelled pile of photos of the new classes (``--unlabelled-images``).

The same two sides as the offset from labelled photos (``inject.calibration.photos``), without labels:

* seen side: virtual seen features moved onto the common component of the pile's features
  (``anchored_seen_features``), scored against the seen rows plus the new rows;
* new side: the pile itself. A pile photo counts once it goes to *any* new class: which one is the
  rows' business, the offset only decides between seen and new.

The offset maximises the harmonic mean of the two shares, capped so the anchored seen features lose at
most ``budget`` of their accuracy (the labelled photos' budget). Photos of seen classes mixed into the
pile count as new here; they are few, their own seen logits are high, and the cap bounds what they can
pull (``inject.unlabelled.rows`` takes out the photos still left to the seen classes and runs again).
"""
from __future__ import annotations

import torch

from .base import Calibration
from .photos import BUDGET, anchored_seen_gaps, photo_gap, seen_bound
from .virtual import best_offset


def pile_gamma(
    seen_rows: torch.Tensor, new_weight: torch.Tensor, new_bias: torch.Tensor, photos: torch.Tensor,
    new_logits: torch.Tensor, budget: float = BUDGET,
) -> Calibration:
    """The offset for new rows ``[K, D]`` / biases ``[K]`` (no offset yet) from pile features ``photos`` ``[N, D]``.

    ``seen_rows``: ``[C, D + 1]`` seen ``[W | b]``; ``new_logits`` ``[N, K]``: the photos' new logits from rows
    each photo did not shape (``inject.unlabelled.rows.pile_rows``), so a photo does not vouch for its row.
    """
    seen_gap, seen_right = anchored_seen_gaps(seen_rows, new_weight, new_bias, photos)
    bound = seen_bound(seen_gap, seen_right, budget)
    new_gap = photo_gap(seen_rows, photos, new_logits)
    gamma, seen_share, new_share = best_offset(seen_gap, seen_right, new_gap, torch.ones(len(new_gap), dtype=torch.bool))
    chosen = min(gamma, bound)
    details = {"pile": len(photos), "seen_bound": bound, "budget": budget, "harmonic_best": gamma,
               "pile_to_new": round(float((new_gap < chosen).float().mean()), 4),
               "virtual_seen_kept": round(float((seen_gap[seen_right] > chosen).sum() / len(seen_gap)), 4)}
    return Calibration("unlabelled", chosen, details)
