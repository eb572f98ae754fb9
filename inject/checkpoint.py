"""Reading and writing weight files: safetensors (and ``.pth`` through ``weights_only=True``), atomically."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Mapping

import torch

from .errors import InjectError

METADATA_FORMAT = {"format": "pt"}


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` and string ``metadata`` to ``path`` atomically (temp file in the same folder + rename).

    An interrupted write leaves any existing file at ``path`` untouched.
    """
    from safetensors.torch import save_file

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        save_file(contiguous, tmp, metadata={**METADATA_FORMAT, **metadata})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """Header metadata of a safetensors file (empty dict when it has none)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return dict(f.metadata() or {})


def load_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a ``.safetensors`` file, or of a ``.pth``/``.bin`` state dict.

    ``.pth``/``.bin`` files are read with ``torch.load(weights_only=True)``: no code is unpickled.

    Raises:
        InjectError: the file is missing, unreadable, or not a weights file.
    """
    path = Path(path)
    if not path.is_file():
        raise InjectError(f"model file '{path}' does not exist")
    if path.suffix in (".pth", ".pt", ".bin"):
        return _load_torch_state_dict(path), {}
    from safetensors.torch import load_file

    try:
        return load_file(str(path)), read_metadata(path)
    except Exception as error:  # safetensors raises several types for bad headers
        raise InjectError(
            f"'{path}' is not a readable safetensors file ({error}); give a .safetensors file, "
            "or a .pth state dict"
        ) from error


def _load_torch_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InjectError(f"'{path}' could not be loaded as a plain state dict ({error})") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InjectError(f"'{path}' does not hold a state dict of tensors")
    return state


def label_names_from_metadata(metadata: Mapping[str, str]) -> list[str] | None:
    """The JSON ``label_names`` list of a safetensors header, if present."""
    raw = metadata.get("label_names")
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InjectError(f"metadata 'label_names' is not a JSON list ({error})") from error
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InjectError("metadata 'label_names' must be a JSON list of strings")
    return names
