"""A model folder as the Hugging Face Hub keeps it: ``config.json``, weights, and anything else beside them.

Which library a folder belongs to is read from its config: a timm folder has ``architecture`` (and no
``model_type``, or transformers' ``timm_wrapper``, which is the same layout); a transformers folder has
the ``model_type`` of one of transformers' image classifiers. Output folders are written whole into a
hidden temporary folder beside the target and renamed into place, so an interrupted run leaves nothing
half-written and an existing folder is replaced only once the new one is complete.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import InjectError
from .weights import FolderWeights, find_weights

CONFIG = "config.json"
CARD = "README.md"


@dataclass(frozen=True)
class ModelFolder:
    """A model folder read from disk (nothing is loaded into memory but the config).

    Attributes:
        path: the folder.
        config: ``config.json`` as a dict.
        kind: ``"timm"`` or ``"transformers"``.
        weights: where its tensors are.
        source: how the user named it (a path, or a Hub id such as ``timm/resnet50.a1_in1k``).
    """

    path: Path
    config: dict[str, Any]
    kind: str
    weights: FolderWeights
    source: str

    @property
    def extra_files(self) -> list[Path]:
        """Files carried over to the output unchanged: all but the config, the weights and the model card."""
        skip = {CONFIG, CARD} | self.weights.names
        return sorted(p for p in self.path.iterdir() if p.is_file() and p.name not in skip and not p.name.startswith("."))


def folder_kind(config: dict[str, Any], where: str) -> str:
    """``"timm"`` or ``"transformers"`` for a folder's ``config``.

    Raises:
        InjectError: the config has neither ``architecture`` nor ``model_type``, or a ``model_type``
        that transformers does not map to an image classifier.
    """
    model_type = config.get("model_type")
    if "architecture" in config and model_type in (None, "timm_wrapper"):
        return "timm"
    if model_type is None:
        raise InjectError(f"config.json of {where} names no 'architecture' (timm) or 'model_type' (transformers); "
                          "give a timm or transformers image-classifier folder")
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES

    if model_type not in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES:
        raise InjectError(f"config.json of {where} has model_type '{model_type}', which is not one of transformers' "
                          "image classifiers (AutoModelForImageClassification); give an image-classification model")
    return "transformers"


def read_folder(path: Path, source: str | None = None) -> ModelFolder:
    """The folder at ``path``: its config, kind and weights, all checked before any tensor is read.

    Raises:
        InjectError: no folder, no or unreadable ``config.json``, an unknown kind, or no weights.
    """
    where = f"model folder '{source or path}'"
    if not path.is_dir():
        raise InjectError(f"{where} does not exist or is not a folder")
    config_path = path / CONFIG
    if not config_path.is_file():
        raise InjectError(f"{where} has no {CONFIG}; give a folder saved by timm (save_for_hf) or transformers (save_pretrained)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InjectError(f"{CONFIG} of {where} is not readable JSON ({type(error).__name__}); restore it") from error
    if not isinstance(config, dict):
        raise InjectError(f"{CONFIG} of {where} is not a JSON object; restore it")
    return ModelFolder(path, config, folder_kind(config, where), find_weights(path), source or str(path))


def check_output_folder(output: Path, source: Path | None = None, force: bool = False) -> None:
    """Refuse an output folder that is the input ``source`` (without ``force``), is a file, or cannot be created."""
    if source is not None and output.resolve() == source.resolve() and not force:
        raise InjectError(f"output '{output}' is the input model folder; choose another -o or pass --force to replace it")
    if output.exists() and not output.is_dir():
        raise InjectError(f"output '{output}' is a file; the output of a model folder is a folder: give a folder path")
    parent = output.resolve().parent
    if not parent.is_dir():
        raise InjectError(f"output folder '{parent}' does not exist; create it first")
    for folder in (parent, output) if output.is_dir() else (parent,):
        if _read_only(folder):
            raise InjectError(f"output folder '{folder}' is read-only; choose another -o or make it writable")


def _read_only(folder: Path) -> bool:
    """Not writable by this process, or with no write permission bit at all (read-only even for root)."""
    return not os.access(folder, os.W_OK | os.X_OK) or not folder.stat().st_mode & 0o222


@contextmanager
def atomic_folder(output: Path) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``output``; on success it replaces ``output``, else it is removed.

    An existing ``output`` is moved aside, the new folder renamed into place, then the old one deleted.
    """
    output = output.resolve()
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())
        if output.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".old", dir=output.parent))
            os.replace(output, aside / output.name)
            os.replace(staging, output)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def copy_extras(folder: ModelFolder, staging: Path) -> None:
    """Copy ``folder``'s other files (preprocessor config, licence, ...) into ``staging`` unchanged."""
    for path in folder.extra_files:
        shutil.copy2(path, staging / path.name)


def write_config(staging: Path, config: dict[str, Any]) -> None:
    """``config.json`` as timm and transformers write it: indented, keys in insertion order."""
    (staging / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
