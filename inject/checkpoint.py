"""Reading and writing weight files: safetensors (and ``.pth`` through ``weights_only=True``), atomically."""
from __future__ import annotations

import json
import os
import pickle
import re
import struct
import tempfile
import warnings
from pathlib import Path
from typing import Mapping

import torch

from .errors import InjectError

METADATA_FORMAT = {"format": "pt"}


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` and string ``metadata`` to ``path`` atomically (temp file in the same folder + rename).

    An interrupted write leaves any existing file at ``path`` untouched; an exception (or SIGTERM in
    the CLI) removes the hidden temp file ``.NAME.*.tmp``, only SIGKILL or a crash can leave it behind.
    The file gets the permissions of the file it replaces, else the usual ones for the umask.
    """
    from safetensors.torch import save_file

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        save_file(contiguous, tmp, metadata={**METADATA_FORMAT, **metadata})
        _sort_header(tmp)
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sort_header(path: str) -> None:
    """Rewrite the JSON header of the safetensors file at ``path`` with sorted keys, in place.

    safetensors orders header keys at random (a Rust ``HashMap``); sorted, equal inputs give
    byte-identical files. The sorted header has the same length (same compact JSON, reordered); it
    is padded with spaces, as safetensors pads its own, and left alone should it ever be longer.
    """
    with open(path, "r+b") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) <= length:
            f.seek(8)
            f.write(text.ljust(length))


def _file_mode(path: Path) -> int:
    """Permission bits for a new file at ``path``: those of the file there, else ``0o666`` less the umask."""
    if path.is_file():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """Header metadata of a safetensors file (empty dict when it has none)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return dict(f.metadata() or {})


def load_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, or of a PyTorch state dict (``.pth``/``.pt``/``.bin``).

    The format is read from the file's first bytes, not its name. PyTorch files are read with
    ``torch.load(weights_only=True)``: no code is unpickled, and anything but tensors is refused.

    Raises:
        InjectError: the file is missing, unreadable, damaged, or not a weights file.
    """
    path = Path(path)
    if path.is_dir():
        raise InjectError(f"model file '{path}' is a folder; give the .safetensors (or .pth) file itself")
    if not path.is_file():
        raise InjectError(f"model file '{path}' does not exist")
    try:
        with open(path, "rb") as f:
            start = f.read(9)
    except OSError as error:
        raise InjectError(f"model file '{path}' cannot be read: {error.strerror or error}") from error
    if start[8:9] != b"{" and (start[:4] == b"PK\x03\x04" or start[:1] == b"\x80"):  # torch.save zip, old pickle
        return _load_torch_state_dict(path), {}
    from safetensors.torch import load_file

    try:
        return load_file(str(path)), read_metadata(path)
    except Exception as error:  # safetensors raises several types for bad headers and short files
        raise InjectError(
            f"model file '{path}' is not a readable safetensors file ({_first_line(error)}); "
            "give an intact .safetensors file or a .pth state dict"
        ) from error


def _first_line(error: BaseException) -> str:
    """The first non-blank line of ``error``'s message (library messages can run to paragraphs)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _load_torch_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict of tensors from a ``torch.save`` file, loaded with ``weights_only=True``."""
    try:
        with open(path, "rb") as f, warnings.catch_warnings():  # a file object: torch.load never guesses by name
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the error below says it all
            state = torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        blocked = re.search(r"GLOBAL ([\w.]+)", str(error))
        what = f"holds Python objects ({blocked[1]}) besides tensors" if blocked else "is a pickle"
        raise InjectError(
            f"model file '{path}' {what}, which the safe loader (torch.load weights_only=True) refuses; "
            "save only model.state_dict() with torch.save, or convert the file to safetensors"
        ) from error
    except Exception as error:  # damaged zip archives and short pickles raise several types
        raise InjectError(f"model file '{path}' is not a readable PyTorch file ({_first_line(error)})") from error
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InjectError(
            f"model file '{path}' is not a state dict of tensors; save only model.state_dict(), "
            "or convert the file to safetensors"
        )
    return state


def label_names_from_metadata(metadata: Mapping[str, str], source: str = "the model") -> list[str] | None:
    """The JSON ``label_names`` list of a safetensors header, if present; ``source`` names the file in errors."""
    raw = metadata.get("label_names")
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InjectError(
            f"metadata 'label_names' of {source} is not a JSON list of strings; give the names with --seen-names"
        )
    return names
