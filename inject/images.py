"""Photos in, model outputs out: the one place that reads images and runs a model over them.

Used for calibrated stacking on labelled photos (``--calibrate-images``), and by the benchmarks and
examples for pre-logit features of evaluation photos.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from .errors import InjectError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})


def image_transform(model: nn.Module):
    """timm's evaluation preprocessing for ``model`` (resize, centre crop, normalise)."""
    from timm.data import create_transform, resolve_data_config

    return create_transform(**resolve_data_config({}, model=model))


def _folded(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def labelled_images(folder: str | Path, label_names: Sequence[str]) -> tuple[list[Path], torch.Tensor]:
    """(image paths, label indices ``[N]``) from ``folder``/<class name>/<image files>.

    Subfolder names match ``label_names`` ignoring case, underscores and repeated spaces.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InjectError(f"calibration image folder '{folder}' does not exist or is not a folder")
    index = {_folded(name): i for i, name in enumerate(label_names)}
    paths, labels = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if _folded(sub.name) not in index:
            raise InjectError(f"calibration subfolder '{sub}' is not a class of the model; name each subfolder "
                              "after a seen or new class (e.g. 'Laysan albatross' or 'Laysan_albatross')")
        images = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += images
        labels += [index[_folded(sub.name)]] * len(images)
    if not paths:
        raise InjectError(f"calibration image folder '{folder}' has no images in class subfolders "
                          "(expected FOLDER/<class name>/<photo>.jpg)")
    return paths, torch.tensor(labels)


@torch.inference_mode()
def run_on_images(
    model: nn.Module, paths: Sequence[str | Path], forward: Callable[[torch.Tensor], torch.Tensor],
    desc: str, batch_size: int = 32, progress: bool = True,
) -> torch.Tensor:
    """``forward`` on batches of the images at ``paths`` (``model``'s eval preprocessing): ``[N, ...]``."""
    from PIL import Image

    transform = image_transform(model)
    model.eval()
    chunks = []
    for start in tqdm(range(0, len(paths), batch_size), desc=desc, unit="batch", disable=not progress):
        batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[start : start + batch_size]])
        chunks.append(forward(batch).float())
    return torch.cat(chunks)


def model_logits(model: nn.Module, paths: Sequence[str | Path], batch_size: int = 32, progress: bool = True) -> torch.Tensor:
    """``model``'s logits ``[N, outputs]`` on the images at ``paths``."""
    return run_on_images(model, paths, model, "photos", batch_size, progress)


def pre_logits(model: nn.Module, paths: Sequence[str | Path], batch_size: int = 32, progress: bool = True) -> torch.Tensor:
    """Classifier inputs ``[N, D]`` of a timm ``model`` for the images at ``paths``.

    ``model.forward_head(x, pre_logits=True)`` is exactly what the classification layer sees.
    """
    def forward(batch: torch.Tensor) -> torch.Tensor:
        return model.forward_head(model.forward_features(batch), pre_logits=True)

    return run_on_images(model, paths, forward, "features", batch_size, progress)
