"""``icis``: image-free classifier injection with semantics (ICIS, Christensen et al., ICCV 2023).

Two autoencoders share one latent space: one for class descriptors, one for classifier rows
``[W | b]``. Each is ``Linear(d, h) + ReLU`` then ``Linear(h, d)``, initialised ``N(0, 0.02)`` with
zero biases as in the public code. Four losses with weight 1, each ``1 - cosine`` per class (MSE
optionally): descriptor -> descriptor over the seen and the new descriptors (the new ones are known
at injection time), and row -> row, row -> descriptor, descriptor -> row over the seen classes, each
averaged over the classes it covers in a batch. A new class's row is ``dec_row(enc_desc(a))``.

Two configurations of the one class:

* ``icis-paper``: as published (public code, ``--cos_sim_loss --include_unseen --num_layers 2
  --lr 1e-5 --beta1 0.9 --batch_size 16 --embed_dim 2048 --early_stopping_slope --strict_eval``):
  Adam, shuffled mini-batches over seen and new classes, up to 1000 epochs, and their early stop:
  from the 22nd epoch, the slope ``-(mean(last 10 epoch losses) - mean(10 before)) / 10`` is
  compared with ``2e-3`` (``2e-6`` for MSE); five epochs in a row below it end training. The model
  after the last epoch is kept (``--strict_eval``).
* ``icis``: the same model and losses tuned for CPU time: larger batches, a higher learning rate
  decayed to zero on a cosine schedule over a fixed number of epochs, no early stop.

Deliberate differences from the public code: descriptors are used as given (this library already
makes them unit-norm, as their loader does for word embeddings); the paper's norm heuristic is left
to the library's calibration (``match_row_norms``, ``inject.calibration``); the new classes' placeholder
rows are skipped rather than encoded and masked out (same losses and gradients); the last batch of
an epoch keeps its remainder, as their ``DataLoader`` does. Randomness (initialisation, shuffling)
comes from a generator seeded in ``fit``, so the same inputs and seed give bit-identical rows on CPU.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import register_mapper


def _linear(width_in: int, width_out: int, generator: torch.Generator) -> nn.Linear:
    """``Linear`` with ``N(0, 0.02)`` weights and zero bias (their ``weights_init``)."""
    layer = nn.Linear(width_in, width_out)
    with torch.no_grad():
        layer.weight.normal_(0.0, 0.02, generator=generator)
        layer.bias.zero_()
    return layer


class _AutoEncoder(nn.Module):
    """``[N, d] -> ReLU(Linear) -> [N, h] -> Linear -> [N, d]``."""

    def __init__(self, width: int, hidden: int, generator: torch.Generator) -> None:
        super().__init__()
        self.encoder = _linear(width, hidden, generator)
        self.decoder = _linear(hidden, width, generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.encoder(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


def _per_class_loss(predicted: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """``[N]`` losses between ``[N, d]`` predictions and targets: ``1 - cosine`` or mean squared error."""
    if kind == "cosine":
        return 1.0 - F.cosine_similarity(predicted, target, dim=1, eps=1e-8)
    return (predicted - target).pow(2).mean(1)


def _icis_loss(
    descriptor_ae: _AutoEncoder, row_ae: _AutoEncoder, descriptors: torch.Tensor, rows: torch.Tensor,
    seen: torch.Tensor, kind: str,
) -> torch.Tensor:
    """Sum of the four reconstruction losses on a batch.

    ``descriptors`` ``[B, E]`` (seen and new classes), ``rows`` ``[S, R]`` the rows of the ``S``
    seen ones, ``seen`` ``[B]`` bool marking them in ``descriptors``.
    """
    z_descriptor = descriptor_ae.encode(descriptors)
    loss = _per_class_loss(descriptor_ae.decode(z_descriptor), descriptors, kind).mean()
    if rows.shape[0] == 0:
        return loss
    z_row, z_seen, seen_descriptors = row_ae.encode(rows), z_descriptor[seen], descriptors[seen]
    loss = loss + _per_class_loss(row_ae.decode(z_row), rows, kind).mean()
    loss = loss + _per_class_loss(descriptor_ae.decode(z_row), seen_descriptors, kind).mean()
    return loss + _per_class_loss(row_ae.decode(z_seen), rows, kind).mean()


def _adam(parameters: list[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam (betas 0.9, 0.999), fused into one kernel where this torch supports it (CPU from 2.4)."""
    try:
        return torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.999), weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.999), weight_decay=weight_decay)


def _slope_stop(epoch_losses: list[float], threshold: float, patience: int = 5) -> bool:
    """Their early stop: the last ``patience`` epochs (from the 22nd on) all had a loss slope below ``threshold``.

    The slope after an epoch is ``-(mean(last 10 losses) - mean(the 10 before)) / 10``.
    """
    def slope(end: int) -> float:
        recent, before = epoch_losses[end - 10 : end], epoch_losses[end - 20 : end - 10]
        return -(sum(recent) / 10 - sum(before) / 10) / 10

    ends = range(len(epoch_losses) - patience + 1, len(epoch_losses) + 1)
    return len(epoch_losses) >= 22 + patience - 1 and all(slope(end) < threshold for end in ends)


@register_mapper("icis")
class ICISMapper:
    """Joint descriptor/row autoencoders trained with cross-reconstruction; rows = ``dec_row(enc_desc(a))``.

    Args:
        hidden: width ``h`` of the shared latent space.
        lr: Adam learning rate (betas 0.9, 0.999).
        batch_size: classes per step (seen and new shuffled together).
        epochs: maximum number of passes over the classes.
        early_stopping: stop on the public code's loss-slope criterion instead of running all epochs.
        cosine_schedule: decay the learning rate to zero over ``epochs`` on a half cosine.
        weight_decay: Adam L2 penalty.
        loss: ``"cosine"`` (``1 - cos``) or ``"mse"``.
        transductive: also reconstruct the new descriptors passed to ``fit``.
        seed: seed of the initialisation and the shuffling.
        device: ``"cpu"``, ``"cuda"``, or ``None`` for a GPU when one is present.
    """

    def __init__(
        self, hidden: int = 2048, lr: float = 1e-3, batch_size: int = 128, epochs: int = 35,
        early_stopping: bool = False, cosine_schedule: bool = True, weight_decay: float = 0.0,
        loss: str = "cosine", transductive: bool = True, seed: int = 0, device: str | None = None,
    ) -> None:
        if loss not in ("cosine", "mse"):
            raise ValueError(f"loss must be 'cosine' or 'mse', got {loss!r}")
        self.hidden, self.lr, self.batch_size, self.epochs = hidden, lr, batch_size, epochs
        self.early_stopping, self.cosine_schedule, self.weight_decay = early_stopping, cosine_schedule, weight_decay
        self.loss, self.transductive, self.seed, self.device = loss, transductive, seed, device

    def fit(
        self, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, new_descriptors: torch.Tensor | None = None
    ) -> "ICISMapper":
        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        generator = torch.Generator().manual_seed(self.seed)
        descriptors = seen_descriptors.float()
        if self.transductive and new_descriptors is not None:
            descriptors = torch.cat([descriptors, new_descriptors.float()])
        descriptors, rows = descriptors.to(device), seen_rows.float().to(device)
        seen = torch.arange(descriptors.shape[0], device=device) < rows.shape[0]
        self.descriptor_ae_ = _AutoEncoder(descriptors.shape[1], self.hidden, generator).to(device)
        self.row_ae_ = _AutoEncoder(rows.shape[1], self.hidden, generator).to(device)
        parameters = [*self.descriptor_ae_.parameters(), *self.row_ae_.parameters()]
        optimizer = _adam(parameters, self.lr, self.weight_decay)
        steps_per_epoch = math.ceil(descriptors.shape[0] / self.batch_size)
        total_steps, step = self.epochs * steps_per_epoch, 0
        threshold = 2e-3 if self.loss == "cosine" else 2e-6
        self.epoch_losses_: list[float] = []
        for _ in range(self.epochs):
            order = torch.randperm(descriptors.shape[0], generator=generator).to(device)
            epoch_loss = torch.zeros((), device=device)
            for batch in order.split(self.batch_size):
                if self.cosine_schedule:
                    for group in optimizer.param_groups:
                        group["lr"] = self.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
                batch_seen = batch[seen[batch]]
                loss = _icis_loss(self.descriptor_ae_, self.row_ae_, descriptors[batch], rows[batch_seen],
                                  seen[batch], self.loss)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                epoch_loss += loss.detach()
                step += 1
            self.epoch_losses_.append(float(epoch_loss) / steps_per_epoch)
            if self.early_stopping and _slope_stop(self.epoch_losses_, threshold):
                break
        self.out_dtype_ = seen_rows.dtype
        return self

    def predict(self, new_descriptors: torch.Tensor) -> torch.Tensor:
        device = self.descriptor_ae_.encoder.weight.device
        with torch.no_grad():
            rows = self.row_ae_.decode(self.descriptor_ae_.encode(new_descriptors.float().to(device)))
        return rows.cpu().to(self.out_dtype_)


@register_mapper("icis-paper")
def icis_paper(**overrides: object) -> ICISMapper:
    """ICIS with the published hyperparameters: Adam lr 1e-5, batch 16, up to 1000 epochs, slope early stop."""
    settings = dict(hidden=2048, lr=1e-5, batch_size=16, epochs=1000, early_stopping=True, cosine_schedule=False,
                    weight_decay=0.0, loss="cosine", transductive=True)
    return ICISMapper(**{**settings, **overrides})
