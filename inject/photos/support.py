"""A user's photos of the new classes (``images=`` / ``--images``): gathered, matched to names, checked.

Two forms, any subset of the new classes, from one photo each:

* a folder with one subfolder per new class, named after it (case, underscores and repeated spaces
  ignored: ``Laysan_albatross/`` holds photos of "Laysan albatross");
* a mapping ``{new class name: [photos]}``, each photo a path, a PIL image or a preprocessed
  ``[3, H, W]`` tensor.

Only new classes take photos: the seen rows never change. Files that are not images are left out
of a folder; images that cannot be read or are too small are skipped later with a note
(``inject.images.run_on_photos``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..errors import InjectError
from ..images import IMAGE_SUFFIXES, Photo, folded_name


@dataclass(frozen=True)
class Support:
    """Photos of some of the ``K`` new classes.

    Attributes:
        photos: ``N`` photos; labels: ``[N]`` their new-class index in ``0..K-1``.
        where: names the source in messages ("photo folder 'birds/'").
    """

    photos: list[Photo]
    labels: torch.Tensor
    where: str

    def counts(self, num_new: int) -> torch.Tensor:
        """Photos per new class ``[K]``."""
        return torch.bincount(self.labels, minlength=num_new)


def _index(new_names: Sequence[str]) -> dict[str, int]:
    return {folded_name(name): i for i, name in enumerate(new_names)}


def _class_of(key: str, index: dict[str, int], seen_names: Sequence[str], what: str) -> int:
    """The new-class index ``key`` names, or one clear error."""
    if folded_name(key) in index:
        return index[folded_name(key)]
    if folded_name(key) in {folded_name(s) for s in seen_names}:
        raise InjectError(f"{what} is a class the model already has; photos shape new rows only "
                          "(to choose the offset with seen photos use calibrate_images / --calibrate-images)")
    raise InjectError(f"{what} matches none of the new class names; name it after one of them "
                      "(case, underscores and spaces are ignored)")


def _from_folder(folder: Path, new_names: Sequence[str], seen_names: Sequence[str]) -> Support:
    if not folder.is_dir():
        raise InjectError(f"photo folder '{folder}' (images / --images) does not exist or is not a folder")
    index, photos, labels = _index(new_names), [], []
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir())
    if not subfolders:
        raise InjectError(f"photo folder '{folder}' has no class subfolders; expected FOLDER/<new class name>/<photo>.jpg")
    for sub in subfolders:
        label = _class_of(sub.name, index, seen_names, f"photo subfolder '{sub}'")
        files = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InjectError(f"photo subfolder '{sub}' has no image files ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                              "add photos or remove the folder")
        photos += files
        labels += [label] * len(files)
    return Support(photos, torch.tensor(labels), f"photo folder '{folder}'")


def _from_mapping(mapping: Mapping[str, Any], new_names: Sequence[str], seen_names: Sequence[str]) -> Support:
    index, photos, labels = _index(new_names), [], []
    for name, items in mapping.items():
        what = f"images key '{name}'"
        label = _class_of(str(name), index, seen_names, what)
        if isinstance(items, (str, os.PathLike, torch.Tensor)) or not isinstance(items, Sequence) or not items:
            raise InjectError(f"{what} must map to a non-empty list of photos (paths, PIL images or [3, H, W] tensors)")
        photos += list(items)
        labels += [label] * len(items)
    if not photos:
        raise InjectError("images is an empty mapping; give {new class name: [photos]} or leave it out")
    return Support(photos, torch.tensor(labels), "images mapping")


def gather_support(images: Any, new_names: Sequence[str], seen_names: Sequence[str]) -> Support:
    """The photos of ``images`` (a folder or a mapping), labelled by new class; every check before any model runs."""
    if isinstance(images, (str, os.PathLike)):
        return _from_folder(Path(images), new_names, seen_names)
    if isinstance(images, Mapping):
        return _from_mapping(images, new_names, seen_names)
    raise InjectError(f"images must be a folder path or a mapping {{new class name: [photos]}}, not {type(images).__name__}")
