"""Models where users keep them: a weights file, a timm or transformers folder, or a Hugging Face Hub id.

``open_source(text)`` tells which one a command-line argument names; ``load_folder`` builds a folder's
model; ``write_folder`` writes an extended model back in its folder's own layout with a model card;
``save_module_folder`` does the same for a model built in memory (``inject.save_model(model, DIR)``).
Each folder kind (``timm``, ``transformers``) is one registry entry: how to load, how to save.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch import nn

from ..errors import InjectError
from ..registry import Registry
from .card import model_card
from .folder import CARD, ModelFolder, atomic_folder, check_output_folder, copy_extras, read_folder, write_config
from .hf_folder import load_hf_folder, save_hf_folder, save_pretrained
from .hub import hub_id, hub_snapshot
from .timm_folder import load_timm_folder, save_timm_folder, timm_output_config


@dataclass(frozen=True)
class FolderKind:
    """How one library's folders are read and written (``save`` returns the config it wrote)."""

    load: Callable[[ModelFolder], nn.Module]
    save: Callable[[ModelFolder, nn.Module, dict[str, Any], Path], dict[str, Any]]


WEIGHT_SUFFIXES = frozenset({".safetensors", ".pth", ".pt", ".bin", ".ckpt"})
FOLDER_KINDS: Registry[FolderKind] = Registry("model folder kind")
FOLDER_KINDS.register("timm")(FolderKind(load_timm_folder, save_timm_folder))
FOLDER_KINDS.register("transformers")(FolderKind(load_hf_folder, save_hf_folder))


def open_source(source: str | Path) -> Path | ModelFolder:
    """What ``source`` names: a weights file (its path), or a model folder, local or a Hub id's snapshot.

    Raises:
        InjectError: nothing exists at ``source`` and it is not a Hub id, or the folder is not a model folder.
    """
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        return read_folder(path)
    if path.suffix in WEIGHT_SUFFIXES:
        raise InjectError(f"model file '{source}' does not exist")
    if hub_id(str(source)):
        return read_folder(hub_snapshot(str(source)), source=str(source))
    raise InjectError(f"model '{source}' does not exist: give a .safetensors/.pth file, a model folder "
                      "(config.json + weights) or a Hugging Face Hub id such as timm/resnet50.a1_in1k")


def load_folder(folder: ModelFolder) -> nn.Module:
    """The model of ``folder``, built by its own library, in eval mode."""
    return FOLDER_KINDS.get(folder.kind).load(folder)


def _labels_of(config: dict[str, Any]) -> list[str]:
    """The ``C + K`` labels a written config shows: timm's ``label_names`` or transformers' ``id2label``."""
    if "label_names" in config:
        return list(config["label_names"])
    return [config["id2label"][key] for key in sorted(config["id2label"], key=int)]


def _write_card(staging: Path, library: str, source: str, config: dict[str, Any], record: dict[str, Any],
                new_names: list[str]) -> None:
    card = model_card(library, source, config, _labels_of(config), new_names, record)
    (staging / CARD).write_text(card, encoding="utf-8")


def write_folder(folder: ModelFolder, model: nn.Module, record: dict[str, Any], new_names: list[str],
                 output: Path, force: bool = False) -> None:
    """Write the extended ``model`` to the folder ``output`` in ``folder``'s layout, with a model card; atomically."""
    check_output_folder(output, folder.path, force)
    try:
        with atomic_folder(output) as staging:
            copy_extras(folder, staging)
            config = FOLDER_KINDS.get(folder.kind).save(folder, model, record, staging)
            _write_card(staging, folder.kind, folder.source, config, record, new_names)
    except OSError as error:
        raise InjectError(f"cannot write output '{output}': {error.strerror or error}; "
                          "check the folder is writable and has space") from error


def _is_transformers(model: nn.Module) -> bool:
    return hasattr(getattr(model, "config", None), "id2label") and callable(getattr(model, "save_pretrained", None))


def save_module_folder(model: nn.Module, output: Path, record: dict[str, Any] | None) -> None:
    """``model`` (transformers or timm, in memory) as a folder in its own library's layout, with a card if injected."""
    if _is_transformers(model):
        library = "transformers"
    elif isinstance(getattr(model, "pretrained_cfg", None), dict):
        library = "timm"
    else:
        raise InjectError(f"{type(model).__name__} is neither a timm nor a transformers model, so it has no folder "
                          "format; save it to a .safetensors file instead")
    check_output_folder(output)
    with atomic_folder(output) as staging:
        config = save_pretrained(model, staging) if library == "transformers" else _save_timm_module(model, staging, record)
        if record is not None:
            new_names = _labels_of(config)[-record["injected"]:]
            _write_card(staging, library, str(config.get("_name_or_path") or config.get("architecture")), config, record, new_names)


def _save_timm_module(model: nn.Module, staging: Path, record: dict[str, Any] | None) -> dict[str, Any]:
    """timm's own ``save_for_hf`` export, its config then written as ``write_folder`` writes one."""
    import timm

    timm.models.save_for_hf(model, staging, safe_serialization=True)
    config = timm_output_config(read_folder(staging).config, model, record)
    write_config(staging, config)
    return config
