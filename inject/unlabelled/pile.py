"""A user's unsorted photos of the new classes (``unlabelled=`` / ``--unlabelled-images``): gathered and checked.

Two forms:

* a folder, searched recursively for image files (by suffix; hidden files and folders, such as
  ``.DS_Store`` or ``._photo.jpg``, are left out); subfolder names mean nothing;
* a list of photos, each a path, a PIL image or a preprocessed ``[3, H, W]`` tensor.

Every photo must be readable: a pile is unsorted, so a photo that cannot be used is an error naming
it rather than a note, and the user removes it. Files are opened (their header read) when the pile is
gathered, so an unreadable file fails before any encoding or model run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..errors import InjectError
from ..images import IMAGE_SUFFIXES, MIN_SIDE, Photo


@dataclass(frozen=True)
class Pile:
    """``N`` unlabelled photos and where they came from (``where`` names the source in messages)."""

    photos: list[Photo]
    where: str


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _from_folder(folder: Path) -> Pile:
    if not folder.is_dir():
        raise InjectError(f"unlabelled photo folder '{folder}' (unlabelled / --unlabelled-images) does not exist "
                          "or is not a folder")
    photos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                    and _visible(p, folder))
    if not photos:
        raise InjectError(f"unlabelled photo folder '{folder}' holds no image files "
                          f"({', '.join(sorted(IMAGE_SUFFIXES))}), in any subfolder; the pile is empty")
    return Pile(list(photos), f"unlabelled photo folder '{folder}'")


def _check_files(photos: Sequence[Any], where: str) -> None:
    """Open every file of ``photos`` (the header only): the first that is not an image is a one-line error."""
    from PIL import Image, UnidentifiedImageError

    for photo in photos:
        if not isinstance(photo, (str, os.PathLike)):
            continue
        try:
            with Image.open(photo):
                pass
        except (OSError, UnidentifiedImageError) as error:
            raise InjectError(f"{where}: {photo} cannot be read as an image ({type(error).__name__}); replace or remove "
                              "it (every photo of an unlabelled pile must be readable)") from None


def _from_list(items: Sequence[Any]) -> Pile:
    if not items:
        raise InjectError("unlabelled is an empty list; give photos (paths, PIL images or [3, H, W] tensors) "
                          "or leave it out")
    return Pile(list(items), "unlabelled photo list")


def gather_pile(unlabelled: Any) -> Pile:
    """The photos of ``unlabelled`` (a folder or a list of photos), every check before any model runs."""
    if isinstance(unlabelled, (str, os.PathLike)):
        pile = _from_folder(Path(unlabelled))
    elif isinstance(unlabelled, torch.Tensor) and unlabelled.dim() == 4:
        pile = _from_list(list(unlabelled))
    elif isinstance(unlabelled, Sequence) and not isinstance(unlabelled, (str, bytes, Mapping)):
        pile = _from_list(unlabelled)
    else:
        raise InjectError(f"unlabelled must be a folder path or a list of photos (paths, PIL images or [3, H, W] "
                          f"tensors), not {type(unlabelled).__name__}; for photos sorted by class use images / --images")
    _check_files(pile.photos, pile.where)
    return pile


def unreadable_error(notes: Sequence[str], pile: Pile) -> InjectError:
    """The one-line error for the pile's photos that could not be used (``notes`` from ``run_on_photos``)."""
    more = f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""
    return InjectError(f"{pile.where}: {notes[0].removeprefix('skipped ')}{more}; replace or remove it "
                       f"(every photo of an unlabelled pile must be a readable image of at least {MIN_SIDE} px)")
