"""Research variants for the unlabelled-pile benchmark (``benchmarks.unlabelled``), beside what the product does.

Each takes the names-only rows (no offset), the seen rows and the pile's features ``[N, D]`` and returns new
rows and biases with their offset, the offset always from the pile (``inject.calibration.pile``) so only
the rows differ:

* names + pile offset: the text rows kept, only the offset chosen on the pile;
* self-training: photos whose text posterior among the new classes clears ``CONFIDENCE`` shape their rows
  (the text prior's update, ``inject.unlabelled.rows.pile_rows``), then the new rows score again, three rounds;
* soft EM: a von Mises-Fisher mixture on the pile's centred unit features started from the text rows, each
  photo counted in every class by its responsibility (concentration ``KAPPA``);
* k-means variants: the product's clustering with the text argmax as the start, or a fixed pull.

``naming_ceiling``: how many of the pile's photos the text rows could name at best if the clusters were the
true classes (one-to-one matching of clusters to rows by mean text logit, Hungarian): the bound on top-1
that any naming by these rows has.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from inject.calibration.pile import pile_gamma
from inject.photos.rows import head_geometry
from inject.rows import head_rows
from inject.unlabelled.clusters import centred_units
from inject.unlabelled.rows import adapt_rows, pile_rows

CONFIDENCE = 0.5  # self-training: softmax probability among the new classes a photo needs
ROUNDS = 3
KAPPA = 20.0  # soft EM concentration on centred unit features
EM_STEPS = 10


def _with_offset(weight, bias, seen_weight, seen_bias, pile, held_out=None):
    logits = pile @ weight.T + bias if held_out is None else held_out
    return weight, bias + pile_gamma(head_rows(seen_weight, seen_bias), weight, bias, pile, logits).gamma


def names_pile_offset(text_weight, text_bias, seen_weight, seen_bias, pile, strength):
    return _with_offset(text_weight, text_bias, seen_weight, seen_bias, pile)


def self_training(text_weight, text_bias, seen_weight, seen_bias, pile, strength):
    weight, bias = text_weight, text_bias
    for _ in range(ROUNDS):
        probability = (pile @ weight.T + bias).softmax(1)
        sure = probability.max(1).values >= CONFIDENCE
        if not sure.any():
            break
        rows = pile_rows(text_weight, seen_weight, pile[sure], probability[sure].argmax(1), strength)
        weight, bias = rows.weight, rows.bias
    return _with_offset(weight, bias, seen_weight, seen_bias, pile)


def soft_em(text_weight, text_bias, seen_weight, seen_bias, pile, strength):
    units, raw = centred_units(pile), F.normalize(pile, dim=1)
    responsibility = (pile @ text_weight.T + text_bias).softmax(1)
    for _ in range(EM_STEPS):
        means = F.normalize(responsibility.T @ units, dim=1)
        responsibility = (KAPPA * units @ means.T).softmax(1)
    unit = F.normalize(strength * F.normalize(text_weight, dim=1) + responsibility.T @ raw, dim=1)
    weight, bias, _ = head_geometry(unit, torch.zeros(len(unit)), seen_weight, float(pile.norm(dim=1).mean()))
    return _with_offset(weight, bias, seen_weight, seen_bias, pile)


def kmeans(start: str, pull: float | None = None):
    """The product's adaptation with another start, or a fixed pull instead of the rehearsed one."""
    def variant(text_weight, text_bias, seen_weight, seen_bias, pile, strength):
        adapted = adapt_rows(text_weight, text_bias, seen_weight, seen_bias, pile, strength if pull is None else pull,
                             start=start)
        return adapted.weight, adapted.bias
    return variant


VARIANTS = {
    "names + pile offset": names_pile_offset,
    "self-training": self_training,
    "soft EM": soft_em,
    "k-means, text start": kmeans("text"),
    "k-means, pull 0.5": kmeans("balanced", 0.5),
    "k-means, pull 20": kmeans("balanced", 20.0),
}


def naming_ceiling(text_weight: torch.Tensor, text_bias: torch.Tensor, pile: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of the pile ``[N, D]`` right if its true classes ``labels`` ``[N]`` were the clusters and each were named
    one-to-one by the text rows ``[K, D]`` (mean logit, centred per row)."""
    from scipy.optimize import linear_sum_assignment

    classes = len(text_weight)
    counts = torch.bincount(labels, minlength=classes).clamp_min(1)[:, None]
    mean = torch.zeros(classes, classes).index_add_(0, labels, pile @ text_weight.T + text_bias) / counts
    cluster, name = linear_sum_assignment(-(mean - mean.mean(0, keepdim=True)).numpy())
    right = torch.zeros(classes, dtype=torch.bool)
    right[torch.as_tensor(cluster)[torch.as_tensor(name) == torch.as_tensor(cluster)]] = True
    return float(right[labels].float().mean())
