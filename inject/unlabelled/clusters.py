"""How an unlabelled pile clusters, started from the text rows: pure tensor functions.

The pile's photos are assigned to the ``K`` new classes by spherical k-means on centred unit features
(the pile's mean removed, then each feature normalised: the common component that every ReLU feature
carries no longer decides the cosines). The k-means starts from the text rows' own assignment, so each
cluster carries the name of the row that first claimed its photos:

* ``balanced`` start: the text rows' logits ``[N, K]`` made into a plan that gives every class the same
  share of the pile (Sinkhorn-Knopp), then each photo to its largest entry. A few rows that score every
  photo high (hubs) would otherwise take most of the pile and leave classes with no photo at all;
* ``text`` start: each photo to its highest text logit.

Photos given with a label (``fixed``) keep it at every step, so labelled photos anchor their class's
cluster and the pile's photos of that class join it; the balanced start then shares the pile among the
classes without labelled photos only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

SINKHORN_STEPS = 50
TOLERANCE = 1e-3  # Sinkhorn stops once every class's log share is this close to its target
KMEANS_STEPS = 30
STARTS = ("balanced", "text")


def balanced_assignment(logits: torch.Tensor, balance: float = 1.0, steps: int = SINKHORN_STEPS) -> torch.Tensor:
    """Labels ``[N]``: the argmax of the plan ``exp(logits + u_n + v_k)`` whose classes each hold ``N / K`` photos.

    ``logits`` ``[N, K]`` (natural log units, e.g. the head's). Sinkhorn-Knopp in log space; ``balance`` < 1
    enforces the class shares only softly (unbalanced transport, the column step damped by ``balance``):
    0 gives each photo's own argmax.
    """
    count, classes = logits.shape
    log_share = torch.full((classes,), float(torch.log(torch.tensor(count / classes))))
    rows = torch.zeros(count)
    for step in range(steps):
        cols = balance * (log_share - (logits + rows[:, None]).logsumexp(0))
        rows = -(logits + cols[None]).logsumexp(1)
        if step % 10 == 9 and ((logits + rows[:, None] + cols[None]).logsumexp(0) - log_share).abs().max() < TOLERANCE:
            break
    return (logits + cols[None]).argmax(1)


def _start(logits: torch.Tensor, fixed: torch.Tensor, start: str) -> torch.Tensor:
    """Each photo's first class. The balanced share goes to the classes no labelled photo anchors (all of them
    if every class has one): the pile is taken to hold the classes that have no labelled photos."""
    if start == "text":
        return logits.argmax(1)
    open_classes = torch.ones(logits.shape[1], dtype=torch.bool)
    open_classes[fixed[fixed >= 0]] = False
    if not open_classes.any():
        return balanced_assignment(logits)
    return open_classes.nonzero().flatten()[balanced_assignment(logits[:, open_classes])]


def centred_units(features: torch.Tensor) -> torch.Tensor:
    """``[N, D]`` features less their mean, each normalised: the space the clusters are found in."""
    return F.normalize(features - features.mean(0), dim=1)


def cluster_labels(
    features: torch.Tensor, logits: torch.Tensor, start: str = "balanced", fixed: torch.Tensor | None = None,
    steps: int = KMEANS_STEPS,
) -> torch.Tensor:
    """New-class label ``[N]`` of each photo: spherical k-means from the text rows' assignment.

    Args:
        features: ``[N, D]`` the photos' features (the head's input).
        logits: ``[N, K]`` the text rows' logits of the photos (any offset: only each photo's ranking
            and, for ``balanced``, differences between photos matter).
        start: ``balanced`` or ``text`` (module docstring).
        fixed: ``[N]`` a class per photo that must keep it (labelled photos), ``-1`` for free ones.
    """
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}, not {start!r}")
    fixed = torch.full((len(features),), -1, dtype=torch.long) if fixed is None else fixed
    free = fixed < 0
    units = centred_units(features)
    labels = torch.where(free, _start(logits, fixed, start), fixed)
    for _ in range(steps):
        sums = torch.zeros(logits.shape[1], units.shape[1]).index_add_(0, labels, units)
        nearest = (units @ F.normalize(sums, dim=1).T).argmax(1)
        updated = torch.where(free, nearest, fixed)
        if torch.equal(updated, labels):
            break
        labels = updated
    return labels
