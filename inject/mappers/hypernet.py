"""``hypernet``: a set-equivariant hypernetwork from class descriptions to rows (after Text2Model, T2M-HN).

The whole task is the input: the descriptors of every class the head will hold (seen and new), as a
set. Each layer maps every member with ``out_i = A z_i + B mean_j z_j + c`` (DeepSets-equivariant),
so a class's row depends on the classes it must be told apart from; permuting the classes permutes
the rows. A linear path from each descriptor is added to the set network's output, so the network
starts as a ridge-like map and learns the context on top.

Trained without images, on episodes: random subsets of the seen classes form a task; the loss is
``1 - cosine`` between predicted and true weight rows, plus squared error on the biases, plus
cross-entropy of virtual features of those classes (``inject.calibration.virtual``) among the
episode's predicted rows, which rewards rows that separate the episode's classes. Any text that the
sentence encoder embeds works as a descriptor, including negative descriptions ("a bird without a
crest"); how much a negation moves a row is up to the encoder (docs/design.md shows one case).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..virtual import virtual_features
from .base import register_mapper


class SetLayer(nn.Module):
    """``[N, d_in] -> [N, d_out]``: ``A z_i + B mean_j z_j + c``, equivariant to permutations of the set."""

    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        self.each = nn.Linear(width_in, width_out)
        self.context = nn.Linear(width_in, width_out, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.each(z) + self.context(z.mean(0, keepdim=True))


class HyperNetwork(nn.Module):
    """Descriptor set ``[N, E]`` -> rows ``[N, R]``: linear path plus two set layers with ReLU."""

    def __init__(self, width_in: int, width_out: int, hidden: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width_in, width_out)
        self.set_net = nn.Sequential(SetLayer(width_in, hidden), nn.ReLU(), SetLayer(hidden, hidden), nn.ReLU(),
                                     SetLayer(hidden, width_out))

    def forward(self, descriptors: torch.Tensor) -> torch.Tensor:
        return self.linear(descriptors) + self.set_net(descriptors)


@register_mapper("hypernet")
class HyperNetworkMapper:
    """Set-equivariant hypernetwork trained on episodes of seen classes.

    Args:
        hidden: set-layer width; episode: classes per training task; steps / lr / weight_decay: AdamW
        training; per_class: virtual features per class for the classification loss (0 turns it
        off) and classification: its weight; seed: all randomness.
    """

    def __init__(self, hidden: int = 512, episode: int = 200, steps: int = 300, lr: float = 1e-3,
                 weight_decay: float = 1e-2, per_class: int = 4, classification: float = 0.1, seed: int = 0) -> None:
        self.hidden, self.episode, self.steps, self.lr = hidden, episode, steps, lr
        self.weight_decay, self.per_class, self.classification, self.seed = weight_decay, per_class, classification, seed

    def fit(self, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, new_descriptors: torch.Tensor | None = None):
        """Train on episodes drawn from ``seen_descriptors`` ``[C, E]`` / ``seen_rows`` ``[C, D + 1]``."""
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)  # nn.Linear initialisation
        descriptors, rows = seen_descriptors.float(), seen_rows.float()
        self.seen_descriptors_, self.norm_ = descriptors, rows[:, :-1].norm(dim=1).mean()
        self.mean_, self.std_ = rows.mean(0), rows.std(0).clamp_min(1e-8)
        targets = (rows - self.mean_) / self.std_
        if self.per_class:
            features, labels, _ = virtual_features(rows[:, :-1], rows[:, -1], self.per_class, seed=self.seed)
        self.net_ = HyperNetwork(descriptors.shape[1], rows.shape[1], self.hidden)
        optimiser = torch.optim.AdamW(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        size = min(self.episode, rows.shape[0])
        for _ in range(self.steps):
            task = torch.randperm(rows.shape[0], generator=generator)[:size]
            predicted = self.net_(descriptors[task])
            loss = (1 - F.cosine_similarity(predicted[:, :-1], targets[task, :-1], dim=1)).mean()
            loss = loss + F.mse_loss(predicted[:, -1], targets[task, -1])
            if self.per_class:
                loss = loss + self.classification * self._classification_loss(predicted, task, features, labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return self

    def _rows(self, predicted: torch.Tensor) -> torch.Tensor:
        """Standardised network output ``[N, R]`` back to row units."""
        return predicted * self.std_ + self.mean_

    def _classification_loss(self, predicted, task, features, labels) -> torch.Tensor:
        """Cross-entropy of the task's virtual features among the task's predicted rows (norms matched)."""
        rows = self._rows(predicted)
        weight = F.normalize(rows[:, :-1], dim=1) * self.norm_
        position = torch.full((int(labels.max()) + 1,), -1, dtype=torch.long)
        position[task] = torch.arange(len(task))
        members = position[labels] >= 0
        logits = features[members] @ weight.T + rows[:, -1]
        return F.cross_entropy(logits, position[labels[members]])

    def predict(self, new_descriptors: torch.Tensor) -> torch.Tensor:
        """Rows ``[K, D + 1]`` for the new classes, the set being every seen class plus the new ones."""
        task = torch.cat([self.seen_descriptors_, new_descriptors.float()])
        with torch.no_grad():
            return self._rows(self.net_(task))[-new_descriptors.shape[0] :]
