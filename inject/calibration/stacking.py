"""Calibration with labelled photos: calibrated stacking (Chao et al. 2016) on a folder of images."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import InjectError
from ..metrics import seen_unseen_curve
from . import Calibration

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})


def stacking_gamma(logits: torch.Tensor, labels: torch.Tensor, new_classes: torch.Tensor) -> Calibration:
    """The offset for the ``new_classes`` columns that maximises the harmonic mean on these photos.

    ``logits`` ``[N, C + K]`` without any offset, ``labels`` ``[N]``, ``new_classes`` ``[K]`` indices.
    Needs photos of at least one seen and one new class.
    """
    is_new = torch.isin(labels, new_classes)
    if is_new.all() or not is_new.any():
        side = "new" if is_new.all() else "seen"
        raise InjectError(f"the calibration photos are all of {side} classes; add photos of at least one "
                          f"{'seen' if side == 'new' else 'new'} class")
    curve = seen_unseen_curve(logits, labels, new_classes)
    gamma, harmonic = curve.best()
    return Calibration("images", gamma, {"photos": len(labels), "classes": int(labels.unique().numel()),
                                         "harmonic_mean_on_photos": harmonic})


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
def model_logits(model: nn.Module, paths: Sequence[Path], batch_size: int = 32, progress: bool = True) -> torch.Tensor:
    """``model``'s logits ``[N, outputs]`` on the images at ``paths``, with timm's eval preprocessing."""
    from PIL import Image
    from timm.data import create_transform, resolve_data_config

    transform = create_transform(**resolve_data_config({}, model=model))
    model.eval()
    chunks = []
    for start in tqdm(range(0, len(paths), batch_size), desc="calibration photos", unit="batch", disable=not progress):
        batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[start : start + batch_size]])
        chunks.append(model(batch).float())
    return torch.cat(chunks)
