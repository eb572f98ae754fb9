"""Row arithmetic shared by the module and state-dict adapters: norms folded in, branches combined.

A head *branch* is one classifier layer (``W`` ``[C, D]``, ``b`` ``[C]``), optionally preceded by a
per-feature affine norm (LeViT's ``NormLinear``: ``BatchNorm1d`` then ``Linear``). A head may have
several branches whose logits are averaged (DeiT/LeViT distillation heads, CrossViT's two scales).
The *effective* rows are the rows that map the model's pre-logits to its logits:

- a norm ``x -> x * s + t`` is folded: ``W' = W * s``, ``b' = b + W @ t``;
- branches of equal width ``D`` average: ``W = mean_i W'_i``. New rows written into every branch
  add exactly ``w @ pre_logits + b`` when the model averages the branch logits and its pre-logits
  are the mean of the branch inputs (DeiT, LeViT distilled). The seen rows are exact too when all
  branches read the same input (LeViT); for DeiT, whose heads read the class and distillation tokens
  separately, ``(W_head + W_dist) / 2`` is the convention (exact when the two heads agree);
- branches of different widths concatenate: ``W = [W'_1 / n, ..., W'_n / n]`` over ``[x_1, ..., x_n]``.

New effective rows are split back the inverse way, so every branch gets rows that add the same
logits; seen rows are never rewritten.
"""
from __future__ import annotations

from typing import Sequence

import torch

Rows = "tuple[torch.Tensor, torch.Tensor | None]"  # weight [C, D], bias [C] or None


def norm_affine(
    weight: torch.Tensor | None, bias: torch.Tensor | None, mean: torch.Tensor, var: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale ``[D]``, shift ``[D]``) of an eval-mode BatchNorm: ``bn(x) = x * scale + shift``."""
    scale = torch.rsqrt(var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias
    return scale, shift


def fold(weight: torch.Tensor, bias: torch.Tensor | None, scale: torch.Tensor, shift: torch.Tensor) -> Rows:
    """Rows ``[C, D]`` acting on ``x`` of a layer that acts on ``x * scale + shift``."""
    folded_bias = weight @ shift
    return weight * scale, folded_bias if bias is None else bias + folded_bias


def unfold(weight: torch.Tensor, bias: torch.Tensor | None, scale: torch.Tensor, shift: torch.Tensor, where: str) -> Rows:
    """Inverse of :func:`fold`: rows ``[K, D]`` to write into a layer that follows the norm."""
    from .errors import HeadError

    if bool((scale == 0).any()):
        raise HeadError(f"the norm before '{where}' has zero scales; new rows cannot be written through it")
    raw = weight / scale
    if bias is None:
        if bool(shift.any()):
            raise HeadError(f"'{where}' has no bias to absorb its norm's shift; build the head with bias=True")
        return raw, None
    return raw, bias - raw @ shift


def combine(rows: Sequence[Rows]) -> Rows:
    """Effective rows of branches whose logits are averaged (see module docstring)."""
    if len(rows) == 1:
        return rows[0]
    weights = [w for w, _ in rows]
    if len({w.shape[1] for w in weights}) == 1:
        weight = torch.stack(weights).mean(0)
    else:
        weight = torch.cat([w / len(weights) for w in weights], dim=1)
    biases = [b for _, b in rows]
    if all(b is None for b in biases):
        return weight, None
    return weight, torch.stack([torch.zeros_like(weights[0][:, 0]) if b is None else b for b in biases]).mean(0)


def split(new_weight: torch.Tensor, widths: Sequence[int]) -> list[torch.Tensor]:
    """Per-branch rows ``[K, D_i]`` whose averaged logits equal ``new_weight``'s (inverse of :func:`combine`)."""
    if len(set(widths)) == 1:
        return [new_weight] * len(widths)
    return [piece * len(widths) for piece in new_weight.split(list(widths), dim=1)]


def neutral_rows(weight: torch.Tensor, bias: torch.Tensor | None, count: int) -> Rows:
    """``count`` copies of the mean seen row (and mean bias): rows for auxiliary heads."""
    rows = weight.mean(0, keepdim=True).expand(count, -1)
    return rows, None if bias is None else bias.mean().expand(count)
