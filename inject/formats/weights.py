"""The weights of a model folder: one file or shards, safetensors or a PyTorch state dict, read and written.

A folder holds ``model.safetensors`` (or ``pytorch_model.bin``), or shards listed by
``model.safetensors.index.json`` (``pytorch_model.bin.index.json``): ``{"metadata": {...}, "weight_map":
{tensor name: shard file}}``, the layout transformers and huggingface_hub write. Shards are read whole and
written back with the same tensor -> shard assignment, so a sharded folder stays sharded; the head's tensors
stay in the shard that held them and only grow.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch

from ..checkpoint import load_weights, write_safetensors
from ..errors import InjectError

SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class FolderWeights:
    """Where a folder's tensors live.

    Attributes:
        files: the weight files, in order (one, or the shards).
        index: the shard index file, or ``None`` for a single file.
        weight_map: tensor name -> shard file name (empty for a single file).
        index_metadata: the index's own ``metadata`` (e.g. ``total_size``).
    """

    files: tuple[Path, ...]
    index: Path | None = None
    weight_map: dict[str, str] = field(default_factory=dict)
    index_metadata: dict = field(default_factory=dict)

    @property
    def sharded(self) -> bool:
        return self.index is not None

    @property
    def names(self) -> set[str]:
        """File names that belong to the weights (shards, index or the single file)."""
        return {p.name for p in self.files} | ({self.index.name} if self.index else set())


def find_weights(folder: Path) -> FolderWeights:
    """The weights of ``folder``: a single file in ``SINGLE_FILES`` order, else a shard index.

    Raises:
        InjectError: no weights file, or an index that is not valid JSON or names a missing shard.
    """
    for name in SINGLE_FILES:
        if (folder / name).is_file():
            return FolderWeights((folder / name,))
    for name in INDEX_FILES:
        if (folder / name).is_file():
            return _read_index(folder / name)
    raise InjectError(f"model folder '{folder}' has no weights: expected {', '.join(SINGLE_FILES + INDEX_FILES)}; "
                      "give the folder that holds config.json and the weights")


def _read_index(index: Path) -> FolderWeights:
    try:
        content = json.loads(index.read_text(encoding="utf-8"))
        weight_map = dict(content["weight_map"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InjectError(f"shard index '{index}' is not a valid index (a JSON object with a 'weight_map'); "
                          f"restore it from the model's source ({type(error).__name__})") from error
    shards = tuple(dict.fromkeys(index.parent / name for name in weight_map.values()))
    missing = [p.name for p in shards if not p.is_file()]
    if missing:
        raise InjectError(f"shard index '{index}' lists {', '.join(missing)}, which the folder lacks; "
                          "download every shard of the model")
    return FolderWeights(shards, index, weight_map, dict(content.get("metadata") or {}))


def read_tensors(weights: FolderWeights) -> dict[str, torch.Tensor]:
    """Every tensor of the folder, shards merged (each read safely: safetensors or ``weights_only``)."""
    tensors: dict[str, torch.Tensor] = {}
    for path in weights.files:
        tensors.update(load_weights(path)[0])
    return tensors


def write_tensors(folder: Path, tensors: Mapping[str, torch.Tensor], like: FolderWeights) -> None:
    """Write ``tensors`` into ``folder`` as safetensors: one ``model.safetensors``, or shards as ``like``'s.

    A sharded input keeps its tensor -> shard assignment (shard names ending in ``.bin`` become
    ``.safetensors``); tensors the input lacked go to the last shard.
    """
    if not like.sharded:
        write_safetensors(folder / "model.safetensors", tensors, {})
        return
    rename = {name: str(Path(name).with_suffix(".safetensors")) for name in dict.fromkeys(like.weight_map.values())}
    last = list(rename.values())[-1]
    weight_map = {key: rename[like.weight_map[key]] if key in like.weight_map else last for key in tensors}
    for shard in dict.fromkeys(weight_map.values()):
        write_safetensors(folder / shard, {k: v for k, v in tensors.items() if weight_map[k] == shard}, {})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {**like.index_metadata, "total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def tensor_shapes(weights: FolderWeights) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape; safetensors files are read from their headers alone, others loaded."""
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for path in weights.files:
        if path.suffix == ".safetensors":
            with safe_open(str(path), "pt") as f:
                shapes.update({k: tuple(f.get_slice(k).get_shape()) for k in f.keys()})
        else:
            shapes.update({k: tuple(v.shape) for k, v in load_weights(path)[0].items()})
    return shapes


def largest_file_bytes(weights: FolderWeights) -> int:
    """Size of the largest weight file: the shard size a sharded output is written with."""
    return max(p.stat().st_size for p in weights.files)
