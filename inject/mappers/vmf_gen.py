"""``vmf-gen``: a conditional feature generator trained on virtual features (after DFZSL, AAAI 2024).

Image-free, for any backbone:

1. Virtual features of the seen classes: von Mises-Fisher draws around the seen rows (the sampler and
   scale rule of ``inject.virtual``).
2. A conditional generator ``G(condition, noise) -> unit feature``, trained on them. The condition is
   the class's row as the ``crafted`` ridge mapper predicts it from the descriptor (out-of-fold for
   the seen classes, so ``G`` learns from realistic errors), and ``G`` is that direction plus an MLP
   residual of ``[condition, noise]``. Two losses: the frozen seen head must classify ``G``'s features as their class (cross-entropy, as the
   classification loss of f-CLSWGAN / DFZSL) and each generated feature must point where a virtual
   feature of its class does (``1 - cosine`` to a random draw of that class).
3. ``G`` generates ``per_new`` features per new class; the new rows start at the mean of their
   features and are fitted as a softmax classifier over generated and virtual features with the seen
   rows frozen, with zero-shot logit adjustment (ZLA, IJCAI 2022) in the loss: the seen logits carry
   ``-log(prior_ratio)``, so the new rows learn to win against a seen side that is favoured in training
   (instead of re-sampling the new classes).

Rows come out as ``[W | b]`` like every mapper's; the library then matches norms and calibrates the offset.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..virtual import virtual_features
from .base import create_mapper, register_mapper
from .crafted import CraftedMapper

FOLDS = 5


@register_mapper("vmf-gen")
class VMFGeneratorMapper:
    """Conditional generator of virtual features, then a ZLA-trained softmax head for the new classes.

    Args:
        hidden: generator width; noise: noise width; per_seen / per_new: virtual features per seen
        class / generated features per new class; steps / batch / lr: generator training (Adam);
        head_steps / head_lr: Adam steps (minibatches of 2048) and learning rate fitting the new rows;
        prior_ratio: ZLA prior of one new class over one seen class in the loss, as everywhere in the
        library (below 1: the seen logits are raised by ``-log(prior_ratio)`` in training); seed: all randomness.
    """

    def __init__(self, hidden: int = 256, noise: int = 64, per_seen: int = 4, per_new: int = 16, steps: int = 200,
                 batch: int = 256, lr: float = 1e-3, head_steps: int = 50, head_lr: float = 1e-3, prior_ratio: float = 0.25,
                 seed: int = 0) -> None:
        self.hidden, self.noise, self.per_seen, self.per_new = hidden, noise, per_seen, per_new
        self.steps, self.batch, self.lr, self.head_steps, self.head_lr = steps, batch, lr, head_steps, head_lr
        self.prior_ratio, self.seed = prior_ratio, seed

    def fit(self, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, new_descriptors: torch.Tensor | None = None):
        """Sample virtual seen features from ``seen_rows`` ``[C, D + 1]`` and train the generator."""
        self.generator_ = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)  # nn.Linear initialisation
        self.weight_, self.bias_ = seen_rows[:, :-1].float(), seen_rows[:, -1].float()
        features, labels, self.scale_ = virtual_features(self.weight_, self.bias_, self.per_seen, seed=self.seed)
        self.features_, self.labels_ = features, labels
        self.crafted_ = create_mapper("crafted").fit(seen_descriptors, seen_rows)
        conditions = self._out_of_fold_conditions(seen_descriptors, seen_rows)
        width = self.weight_.shape[1]
        self.net_ = nn.Sequential(nn.Linear(width + self.noise, self.hidden), nn.LeakyReLU(0.2), nn.Linear(self.hidden, width))
        optimiser = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        for _ in range(self.steps):
            pick = torch.randint(len(labels), (self.batch,), generator=self.generator_)
            fake = self._generate(conditions[labels[pick]])
            logits = self.scale_ * fake @ self.weight_.T + self.bias_
            loss = F.cross_entropy(logits, labels[pick]) + (1 - F.cosine_similarity(fake, features[pick], dim=1)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return self

    def _out_of_fold_conditions(self, descriptors: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Unit ``crafted`` row directions ``[C, D]`` for the seen classes, each from a fit without its class."""
        fold_of = torch.randperm(rows.shape[0], generator=self.generator_) % FOLDS
        predicted = torch.empty_like(self.weight_)
        for fold in range(FOLDS):
            held = fold_of == fold
            ridge = CraftedMapper(alphas=[self.crafted_.alpha_]).fit(descriptors[~held], rows[~held])
            predicted[held] = ridge.predict(descriptors[held])[:, :-1].float()
        return F.normalize(predicted, dim=1)

    def _generate(self, conditions: torch.Tensor) -> torch.Tensor:
        """Unit features ``[N, D]`` around unit row directions ``conditions`` ``[N, D]``, one noise draw each."""
        noise = torch.randn(conditions.shape[0], self.noise, generator=self.generator_)
        return F.normalize(conditions + self.net_(torch.cat([conditions, noise], dim=1)), dim=1)

    def predict(self, new_descriptors: torch.Tensor) -> torch.Tensor:
        """Rows ``[K, D + 1]`` fitted on ``per_new`` generated features per new class."""
        count = new_descriptors.shape[0]
        with torch.no_grad():
            conditions = F.normalize(self.crafted_.predict(new_descriptors)[:, :-1].float(), dim=1)
            fake = self.scale_ * self._generate(conditions.repeat_interleave(self.per_new, dim=0))
        fake_labels = torch.arange(count).repeat_interleave(self.per_new)
        features = torch.cat([fake, self.features_])
        labels = torch.cat([fake_labels + self.weight_.shape[0], self.labels_])
        seen_logits = features @ self.weight_.T + self.bias_ - math.log(self.prior_ratio)  # ZLA: seen favoured in training
        prototypes = F.normalize(fake.view(count, self.per_new, -1).mean(1), dim=1) * self.weight_.norm(dim=1).mean()
        weight = prototypes.clone().requires_grad_(True)
        bias = torch.full((count,), float(self.bias_.mean())).requires_grad_(True)
        optimiser = torch.optim.Adam([weight, bias], lr=self.head_lr)
        for _ in range(self.head_steps):
            pick = torch.randint(len(labels), (min(len(labels), 2048),), generator=self.generator_)
            logits = torch.cat([seen_logits[pick], features[pick] @ weight.T + bias], dim=1)
            loss = F.cross_entropy(logits, labels[pick])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return torch.cat([weight.detach(), bias.detach()[:, None]], dim=1)
