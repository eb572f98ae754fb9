"""``inject-classes-predict``: run a model, in any format ``inject.load_model`` reads, on photos or folders.

* photos (files, or folders of them, searched recursively): the top-k labels of each, with the WordNet
  path from ``entity`` down for labels that name a synset;
* a labelled folder (one subfolder per class, named after it, as ``--images`` takes): per-class top-1
  among all the model's classes and what each class is most often taken for.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

import click
import torch
from torch import nn

from .api import labels as model_labels
from .api import load_model
from .errors import InjectError
from .images import IMAGE_SUFFIXES, labelled_images, model_logits
from .knowledge.context import readable_names
from .knowledge.paths import hierarchical_topk, label_wnids

PATH_DEPTH = 4  # synsets shown at the end of each WordNet path


def photo_paths(paths: Sequence[Path]) -> list[Path]:
    """The photos among ``paths``: files as given, folders searched recursively, in sorted order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise InjectError(f"photo '{path}' does not exist; give photo files or folders of photos")
    if not found:
        raise InjectError(f"no photos ({', '.join(sorted(IMAGE_SUFFIXES))}) in {', '.join(map(str, paths))}")
    return found


def is_labelled_folder(paths: Sequence[Path]) -> bool:
    """One folder whose entries are class subfolders (and no loose photos)."""
    if len(paths) != 1 or not paths[0].is_dir():
        return False
    entries = [p for p in paths[0].iterdir() if not p.name.startswith(".")]
    return bool(entries) and all(p.is_dir() for p in entries)


def top_k_lines(model: nn.Module, photos: Sequence[Path], k: int, progress: bool) -> list[str]:
    """Per photo: its path, then ``k`` lines of score, label and WordNet path."""
    names = model_labels(model)
    logits = model_logits(model, photos, progress=progress)
    ranked = hierarchical_topk(logits.softmax(1), names, k=k, wnids=label_wnids(readable_names(names)))
    lines = []
    for photo, top in zip(photos, ranked):
        lines.append(str(photo))
        for entry in top:
            path = " > ".join(entry["path"][-PATH_DEPTH:])
            lines.append(f"  {entry['score']:.3f}  {entry['label']}" + (f"  [{path}]" if path else ""))
    return lines


def per_class_lines(model: nn.Module, folder: Path, progress: bool) -> list[str]:
    """Per class subfolder: photos, top-1 among all classes, and the label it is most often taken for."""
    names = model_labels(model)
    paths, truth = labelled_images(folder, names)
    predicted = model_logits(model, paths, progress=progress).argmax(1)
    lines = ["class | photos | top-1 | most often taken for"]
    for label in torch.unique(truth).tolist():
        mine = predicted[truth == label]
        wrong = Counter(mine[mine != label].tolist()).most_common(1)
        taken = f"{names[wrong[0][0]]} ({wrong[0][1]})" if wrong else "-"
        lines.append(f"{names[label]} | {len(mine)} | {(mine == label).float().mean():.2f} | {taken}")
    lines.append(f"top-1 over {len(paths)} photos: {(predicted == truth).float().mean():.3f} "
                 f"(mean over classes {sum((predicted[truth == c] == c).float().mean() for c in torch.unique(truth)) / len(torch.unique(truth)):.3f})")
    return lines


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model_source", metavar="MODEL")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1), help="Labels shown per photo.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def main(model_source: str, paths: tuple[Path, ...], top_k: int, quiet: bool) -> None:
    """Run MODEL (a weights file with 'architecture' metadata, a timm or transformers folder, or a Hub id) on
    PATHS: photos or folders of photos (top-k labels each), or one folder with a subfolder per class
    (per-class top-1 and main confusions)."""
    from .allocator import keep_freed_memory
    from .cli import fail

    keep_freed_memory()
    try:
        model = load_model(model_source)
        lines = (per_class_lines(model, paths[0], not quiet) if is_labelled_folder(paths)
                 else top_k_lines(model, photo_paths(paths), top_k, not quiet))
    except InjectError as error:
        fail(str(error))
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
