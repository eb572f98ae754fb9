"""Pre-logit features of real photos: what evaluation and image-based calibration score rows against."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm


def image_transform(model: nn.Module):
    """timm's evaluation preprocessing for ``model`` (resize, centre crop, normalise)."""
    from timm.data import create_transform, resolve_data_config

    return create_transform(**resolve_data_config({}, model=model))


@torch.inference_mode()
def pre_logits(
    model: nn.Module, paths: Sequence[str | Path], batch_size: int = 32, progress: bool = True
) -> torch.Tensor:
    """Classifier inputs ``[N, D]`` of ``model`` for the images at ``paths`` (timm models).

    ``model.forward_head(x, pre_logits=True)`` is exactly what the classification layer sees.
    """
    from PIL import Image

    transform = image_transform(model)
    model.eval()
    chunks = []
    for start in tqdm(range(0, len(paths), batch_size), desc="features", unit="batch", disable=not progress):
        batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[start : start + batch_size]])
        chunks.append(model.forward_head(model.forward_features(batch), pre_logits=True))
    return torch.cat(chunks)
