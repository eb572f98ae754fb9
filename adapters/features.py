"""The head's *effective* input: the pre-logit features its effective rows act on, for any located head.

``ModuleHead.weight`` / ``.bias`` map one feature vector per image to the logits (``adapters._rows``):
norms folded in, branches combined. This module captures that vector while the model runs, with
forward hooks on the head's layers, so photos can be turned into rows (weight imprinting) for every
model the adapters support, not only timm models with ``forward_head(..., pre_logits=True)``:

- a layer behind a norm (LeViT ``NormLinear``) contributes the norm's input;
- a 1x1 conv layer contributes its input averaged over space (exact when the model average-pools
  the logits after it);
- branches of one width contribute the mean of their inputs, branches of several widths the
  concatenation, matching ``_rows.combine``.

So ``features @ head.weight.T + head.bias`` reproduces the logits exactly for one-branch heads and
for branches that read one input (LeViT), and by the same convention as the rows for DeiT's two tokens.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Union

import torch
from torch import nn

from .modules import ModuleHead, _single


def _flat(x: torch.Tensor) -> torch.Tensor:
    """``[N, D]`` from a Linear input ``[N, D]`` (or ``[N, ..., D]``, averaged) or a conv input ``[N, D, H, W]``."""
    return x.mean(dim=(2, 3)) if x.dim() == 4 else x.reshape(x.shape[0], -1, x.shape[-1]).mean(1)


def _combined(inputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Branch inputs ``[N, D_i]`` -> effective features, as ``_rows.combine`` combines the branch rows."""
    if len(inputs) == 1:
        return inputs[0]
    if len({x.shape[1] for x in inputs}) == 1:
        return torch.stack(list(inputs)).mean(0)
    return torch.cat(list(inputs), dim=1)


Batch = Union[torch.Tensor, Mapping[str, torch.Tensor]]


@torch.inference_mode()
def head_inputs(model: nn.Module, head: ModuleHead, batch: Batch) -> torch.Tensor:
    """Run ``model`` (eval mode) on ``batch`` and return the head's effective input ``[N, D]``.

    ``batch``: the model's input ``[N, ...]`` (``model(batch)``), or its keyword inputs (``model(**batch)``:
    a transformers image processor's output, e.g. SigLIP2's ``pixel_values``, ``pixel_attention_mask``,
    ``spatial_shapes``). ``D`` is ``head.weight.shape[1]``: the features whose dot products with the
    effective rows are the logits.
    """
    singles = [_single(model, path) for path in head.paths]
    captured: dict[int, torch.Tensor] = {}
    hooks = []
    for i, single in enumerate(singles):
        watched = single.norm if single.norm is not None else single.layer
        hooks.append(watched.register_forward_hook(lambda module, args, output, i=i: captured.setdefault(i, args[0])))
    try:
        model(**batch) if isinstance(batch, Mapping) else model(batch)
    finally:
        for hook in hooks:
            hook.remove()
    missing = [singles[i].path for i in range(len(singles)) if i not in captured]
    if missing:
        from .errors import HeadError

        raise HeadError(f"the model's forward pass never ran head layer(s) {missing}; its features cannot be read")
    return _combined([_flat(captured[i].float()) for i in range(len(singles))])
