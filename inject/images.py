"""Photos in, model outputs out: the one place that reads images and runs a model over them.

Used for calibrated stacking on labelled photos (``--calibrate-images``), for the features of a
user's photos of new classes (``images=`` / ``--images``), and by the benchmarks and examples for
pre-logit features of evaluation photos.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, Union

import torch
from torch import nn
from tqdm.auto import tqdm

from .errors import InjectError

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})


def image_transform(model: nn.Module) -> Callable[["Image.Image"], torch.Tensor]:
    """``model``'s evaluation preprocessing, PIL image -> ``[3, H, W]``.

    A transformers model uses its image processor, read from the folder or Hub id it was loaded from
    (``config._name_or_path``); any other model, and transformers' timm wrapper, timm's preprocessing
    from its ``pretrained_cfg`` (resize, centre crop, normalise).
    """
    from timm.data import create_transform, resolve_data_config

    processor = _image_processor(model)
    if processor is not None:
        return lambda image: processor(images=image, return_tensors="pt")["pixel_values"][0]
    return create_transform(**resolve_data_config({}, model=getattr(model, "timm_model", model)))


def _image_processor(model: nn.Module):
    """The transformers image processor saved beside ``model``'s weights, or ``None`` (a timm-based or unsaved model)."""
    config = getattr(model, "config", None)
    source = getattr(config, "_name_or_path", "")
    if not hasattr(config, "id2label") or hasattr(model, "timm_model") or not source:
        return None
    from transformers import AutoImageProcessor

    from .assets import hub_offline

    try:
        with hub_offline():
            return AutoImageProcessor.from_pretrained(source)
    except (OSError, ValueError):
        return None


def output_logits(output: Any) -> torch.Tensor:
    """The logits tensor of a model's output: the tensor itself, or transformers' ``output.logits``."""
    return output.logits if hasattr(output, "logits") else output


def folded_name(name: str) -> str:
    """How folder names match class names: case, underscores and repeated spaces ignored."""
    return " ".join(name.replace("_", " ").split()).casefold()


def labelled_images(folder: str | Path, label_names: Sequence[str]) -> tuple[list[Path], torch.Tensor]:
    """(image paths, label indices ``[N]``) from ``folder``/<class name>/<image files>.

    Subfolder names match ``label_names`` ignoring case, underscores and repeated spaces.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InjectError(f"calibration image folder '{folder}' does not exist or is not a folder")
    index = {folded_name(name): i for i, name in enumerate(label_names)}
    paths, labels = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if folded_name(sub.name) not in index:
            raise InjectError(f"calibration subfolder '{sub}' is not a class of the model; name each subfolder "
                              "after a seen or new class (e.g. 'Laysan albatross' or 'Laysan_albatross')")
        images = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += images
        labels += [index[folded_name(sub.name)]] * len(images)
    if not paths:
        raise InjectError(f"calibration image folder '{folder}' has no images in class subfolders "
                          "(expected FOLDER/<class name>/<photo>.jpg)")
    return paths, torch.tensor(labels)


Photo = Union[str, Path, "Image.Image", torch.Tensor]  # a file, a PIL image, or a preprocessed [3, H, W] tensor
MIN_SIDE = 16  # pixels; smaller photos are skipped with a note


DRAFT_FACTOR = 2  # photo files decode straight to about this many times the model's input side, when larger


def draft_side(transform: Callable[["Image.Image"], torch.Tensor]) -> int:
    """``DRAFT_FACTOR`` times the longer side of what ``transform`` makes (the model's input), in pixels."""
    from PIL import Image

    return DRAFT_FACTOR * max(transform(Image.new("RGB", (64, 64))).shape[-2:])


def _opened(path: str | Path, side: int | None) -> "Image.Image":
    """The image file at ``path``; a JPEG whose shorter side is over ``side`` decodes at the smallest of 1/2,
    1/4 or 1/8 scale that keeps it at least ``side`` (PIL's draft mode: a 12-megapixel photo reads 7x faster,
    and the model's features of it keep a cosine of 0.9997 to those of the full decode)."""
    from PIL import Image

    image = Image.open(path)
    if side and min(image.size) > side:
        scale = side / min(image.size)
        image.draft("RGB", (math.ceil(image.size[0] * scale), math.ceil(image.size[1] * scale)))
    return image


def _photo_tensor(item: Photo, transform, side: int | None = None) -> torch.Tensor:
    """``item`` preprocessed to ``[3, H, W]``; raises ``ValueError`` with the reason it cannot be used.

    ``side``: files read by path decode no smaller than this (``draft_side``); ``None`` decodes them whole.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, torch.Tensor):
        if item.dim() != 3 or item.shape[0] != 3:
            raise ValueError(f"a tensor photo must be a preprocessed [3, H, W] image, got shape {tuple(item.shape)}")
        return item.float()
    try:
        image = item if isinstance(item, Image.Image) else _opened(item, side)
        image = image.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise ValueError(f"cannot be read as an image ({type(error).__name__})") from None
    if min(image.size) < MIN_SIDE:
        raise ValueError(f"is {image.size[0]}x{image.size[1]} px, smaller than {MIN_SIDE} px on a side")
    return transform(image)


def photo_label(item: Photo, index: int) -> str:
    """How messages name a photo: its path, or its position for in-memory images."""
    return str(item) if isinstance(item, (str, Path)) else f"image #{index + 1}"


def input_placement(model: nn.Module) -> dict[str, torch.device | torch.dtype]:
    """``device`` and ``dtype`` for ``model``'s input batches: those of its first floating parameter (CPU float32 without one)."""
    floating = next((p for p in model.parameters() if p.is_floating_point()), None)
    if floating is None:
        return {"device": torch.device("cpu"), "dtype": torch.float32}
    return {"device": floating.device, "dtype": floating.dtype}


CPU_BATCH, DEVICE_BATCH = 8, 32  # photos per forward pass; small CPU batches keep activations in cache


@contextmanager
def channels_last_on_cpu(model: nn.Module) -> Iterator[bool]:
    """Run ``model`` in channels-last layout on the CPU, where its convolutions are about twice as fast.

    Only a CPU model whose 4-D weights are all in the default layout is converted, and it is converted back
    on exit, so the caller's model keeps its layout (values are copied, never changed). Call it outside
    ``torch.inference_mode``, or the model's parameters would become inference tensors. Yields whether
    input batches should be made channels-last too.
    """
    kernels = [p for p in model.parameters() if p.dim() == 4]
    convert = (input_placement(model)["device"].type == "cpu" and bool(kernels)
               and all(p.is_contiguous() for p in kernels))
    if convert:
        model.to(memory_format=torch.channels_last)
    try:
        yield convert
    finally:
        if convert:
            model.to(memory_format=torch.contiguous_format)


def run_on_photos(
    model: nn.Module, photos: Sequence[Photo], forward: Callable[[torch.Tensor], torch.Tensor], desc: str,
    batch_size: int | None = None, progress: bool = True, mirrored: bool = False,
) -> tuple[torch.Tensor, list[int], list[str]]:
    """``forward`` on every usable photo: (outputs ``[M, ...]``, the ``M`` indices used, one note per skipped photo).

    Unreadable and too-small photos are skipped with a note instead of failing the whole run.
    Batches go to the model's device and floating dtype (``input_placement``); outputs come back on the CPU.
    ``mirrored``: outputs ``[M, 2, ...]``, the photo and its left-right mirror image.
    ``batch_size``: photos per forward pass (default ``CPU_BATCH`` on the CPU, ``DEVICE_BATCH`` elsewhere).
    """
    transform = image_transform(model)
    place = input_placement(model)
    batch_size = batch_size or (CPU_BATCH if place["device"].type == "cpu" else DEVICE_BATCH)
    model.eval()
    with channels_last_on_cpu(model) as channels_last:
        layout = torch.channels_last if channels_last else torch.contiguous_format
        return _batched(photos, transform, lambda x: forward(x.to(**place).contiguous(memory_format=layout)),
                        desc, batch_size, progress, mirrored)


@torch.inference_mode()
def _batched(
    photos: Sequence[Photo], transform, forward: Callable[[torch.Tensor], torch.Tensor], desc: str,
    batch_size: int, progress: bool, mirrored: bool,
) -> tuple[torch.Tensor, list[int], list[str]]:
    """``run_on_photos``' loop: preprocess ``batch_size`` photos at a time, skip the unusable ones with a note.

    Photos are read in this thread: on 2 cores a reader thread beside the model's threads only competes with them.
    """
    chunks, used, notes, side = [], [], [], draft_side(transform)
    for start in tqdm(range(0, len(photos), batch_size), desc=desc, unit="batch", disable=not progress):
        batch = []
        for i in range(start, min(start + batch_size, len(photos))):
            try:
                batch.append(_photo_tensor(photos[i], transform, side))
                used.append(i)
            except ValueError as reason:
                notes.append(f"skipped {photo_label(photos[i], i)}: {reason}")
        if batch:
            x = torch.stack(batch)
            out = forward(torch.cat([x, x.flip(-1)]) if mirrored else x).float().cpu()
            chunks.append(torch.stack(out.split(len(batch)), dim=1) if mirrored else out)
    return (torch.cat(chunks) if chunks else torch.empty(0)), used, notes


def run_on_images(
    model: nn.Module, paths: Sequence[str | Path], forward: Callable[[torch.Tensor], torch.Tensor],
    desc: str, batch_size: int | None = None, progress: bool = True,
) -> torch.Tensor:
    """``forward`` on every image at ``paths`` (``model``'s eval preprocessing): ``[N, ...]``.

    The strict form of ``run_on_photos``, for callers that need every image they list (labelled
    calibration photos, benchmark sets): an unreadable or too-small image is an ``InjectError`` naming it.
    """
    outputs, _, notes = run_on_photos(model, paths, forward, desc, batch_size, progress)
    if notes:
        more = f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""
        raise InjectError(f"{notes[0].removeprefix('skipped ')}{more}; replace or remove it")
    return outputs


def model_logits(model: nn.Module, paths: Sequence[str | Path], batch_size: int | None = None, progress: bool = True) -> torch.Tensor:
    """``model``'s logits ``[N, outputs]`` on the images at ``paths``."""
    return run_on_images(model, paths, lambda batch: output_logits(model(batch)), "photos", batch_size, progress)


def pre_logits(model: nn.Module, paths: Sequence[str | Path], batch_size: int | None = None, progress: bool = True) -> torch.Tensor:
    """Classifier inputs ``[N, D]`` of a timm ``model`` for the images at ``paths``.

    ``model.forward_head(x, pre_logits=True)`` is exactly what the classification layer sees.
    """
    def forward(batch: torch.Tensor) -> torch.Tensor:
        return model.forward_head(model.forward_features(batch), pre_logits=True)

    return run_on_images(model, paths, forward, "features", batch_size, progress)
