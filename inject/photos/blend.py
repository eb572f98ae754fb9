"""Rows from photos, blended with the text prior: pure tensor functions.

Weight imprinting (Qi, Brown & Lowe, CVPR 2018) makes a new row the mean of its photos' unit
pre-logit features. Here that mean is one end of a blend:

1. **Prior direction.** Each class starts from its text-predicted row (unit). Its photos move it like a
   conjugate update of a von Mises-Fisher mean direction: ``normalize(strength * prior + sum_i x_i)``
   over the class's unit features ``x_i``, ``strength`` being the prior's weight in photos. One photo
   moves it a lot, ten nearly all the way.
2. **Discriminative fit.** A multinomial logistic regression on the unit features of all photos (and
   their mirror images) over the classes with photos, whose rows are pulled towards ``scale`` times
   the prior directions by an L2 penalty of weight ``pull``: large ``pull`` keeps the shrunk means,
   small ``pull`` gives a plain linear probe. As photos accumulate the data term outweighs the penalty,
   so the rows move from the prior to what the photos say.

``pull`` is chosen by leave-photos-out (``choose_pull``): photos are split into folds, rows are fitted
without a fold, and the fold's photos must find their class among all new rows. The same held-out
scores give each class's leave-photos-out accuracy and its confusions, which tell a user when the
backbone cannot tell the new classes apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

SCALE = 10.0  # logit scale of the regression on unit features (a cosine classifier's temperature)
PULLS = (0.0003, 0.003, 0.03)  # candidate penalties towards the prior, per row and feature
DEFAULT_PULL = 0.01
STRENGTH = 0.5  # the text prior's weight in photos
FOLDS = 3  # leave-photos-out folds for choosing the pull


@dataclass(frozen=True)
class Fitted:
    """Rows on unit features: logits ``scale * (x @ weight.T + bias)`` for unit ``x`` ``[N, D]``.

    Attributes:
        weight: ``[K, D]``; bias: ``[K]``; pull: the penalty they were fitted with.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    pull: float

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, K]`` logits of raw features ``[N, D]`` (normalised here)."""
        return SCALE * (F.normalize(features, dim=-1) @ self.weight.T + self.bias)


def prior_directions(prior: torch.Tensor, features: torch.Tensor, labels: torch.Tensor, strength: float = STRENGTH) -> torch.Tensor:
    """Unit rows ``[K, D]``: ``normalize(strength * unit(prior_k) + sum of class k's unit features)``.

    ``prior`` ``[K, D]`` text-predicted rows; ``features`` ``[N, D]`` (or ``[N, V, D]``: ``V`` views of each photo,
    averaged), ``labels`` ``[N]`` in ``0..K-1``. Classes without photos keep their prior direction.
    """
    unit = F.normalize(features, dim=-1)
    unit = F.normalize(unit.mean(1), dim=-1) if unit.dim() == 3 else unit
    sums = torch.zeros_like(prior).index_add_(0, labels, unit)
    return F.normalize(strength * F.normalize(prior, dim=1) + sums, dim=1)


def fit_rows(
    features: torch.Tensor, labels: torch.Tensor, centre: torch.Tensor, pull: float = DEFAULT_PULL, steps: int = 30
) -> Fitted:
    """MAP logistic regression over ``K`` classes, rows pulled towards ``centre`` ``[K, D]`` (unit).

    ``features`` ``[N, D]`` or ``[N, V, D]`` (every view a sample), ``labels`` ``[N]``. Classes with no
    photos keep ``centre`` as their row (only the penalty acts on them). Deterministic (L-BFGS from ``centre``).
    """
    unit = F.normalize(features, dim=-1)
    if unit.dim() == 3:
        labels = labels.repeat_interleave(unit.shape[1])
        unit = unit.reshape(-1, unit.shape[-1])
    weight = centre.clone().requires_grad_(True)
    bias = torch.zeros(len(centre), requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(SCALE * (unit @ weight.T + bias), labels) + pull * (weight - centre).pow(2).sum()
        value.backward()
        return value

    with torch.enable_grad():
        optimizer.step(loss)
    return Fitted(weight.detach(), bias.detach(), pull)


def photo_folds(labels: torch.Tensor, folds: int = 5, seed: int = 0) -> torch.Tensor:
    """Fold index ``[N]`` per photo: each class's photos dealt round-robin in a seeded order."""
    generator = torch.Generator().manual_seed(seed)
    fold = torch.empty_like(labels)
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        fold[members[torch.randperm(len(members), generator=generator)]] = torch.arange(len(members)) % folds
    return fold


def held_out_logits(
    features: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor, pull: float, folds: torch.Tensor,
    strength: float = STRENGTH,
) -> torch.Tensor:
    """``[N, K]`` logits of every photo by rows fitted without its fold (the class keeps its other photos).

    ``features`` ``[N, D]`` or ``[N, V, D]``, view 0 being the photo itself (the one scored).
    """
    out = torch.empty(len(labels), len(prior))
    for fold in folds.unique():
        train = folds != fold
        centre = prior_directions(prior, features[train], labels[train], strength)
        fitted = fit_rows(features[train], labels[train], centre, pull)
        held = features[~train]
        out[~train] = fitted.logits(held[:, 0] if held.dim() == 3 else held)  # the photo as the head sees it
    return out


def choose_pull(
    features: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor, pulls: Sequence[float] = PULLS,
    strength: float = STRENGTH,
) -> tuple[float, torch.Tensor | None]:
    """(pull with the best leave-photos-out top-1, its held-out logits ``[N, K]``).

    Needs two photos of some class; otherwise the default pull and ``None``. Ties go to the larger pull.
    """
    counts = torch.bincount(labels)
    if counts.max() < 2:
        return DEFAULT_PULL, None
    folds = photo_folds(labels, folds=min(FOLDS, int(counts.max())))
    best: tuple[float, float, torch.Tensor] | None = None
    for pull in sorted(pulls, reverse=True):
        logits = held_out_logits(features, labels, prior, pull, folds, strength)
        score = float((logits.argmax(1) == labels).float().mean())
        if best is None or score > best[0]:
            best = (score, pull, logits)
    return best[1], best[2]
