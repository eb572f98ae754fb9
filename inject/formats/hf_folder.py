"""transformers folders: ``config.json`` with a ``model_type``, weights, ``preprocessor_config.json``.

Read with ``AutoModelForImageClassification.from_pretrained`` (offline), after checking the config
against the weights: the head the config implies must be in the weights with ``num_labels`` rows.
transformers would otherwise re-initialise a mismatched or missing head at random and go on.

Written with ``save_pretrained`` (``config.json`` then carries ``id2label``, ``label2id`` and the
``inject`` record, see ``inject.model_labels``); sharded inputs stay sharded at their shard size; every
other file of the input folder (the preprocessor config first of all) is carried over.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..adapters import HeadError, find_head
from ..assets import hub_offline, no_hf_progress_bars
from ..errors import InjectError
from .folder import ModelFolder
from .weights import largest_file_bytes, tensor_shapes

ONE_FILE = "1000GB"  # max_shard_size that keeps an unsharded input in one file


def _expected_head(folder: ModelFolder) -> tuple[str, int]:
    """(state-dict key of the head's weight, its rows) of the model ``folder``'s config describes."""
    from transformers import AutoConfig, AutoModelForImageClassification

    with hub_offline():
        config = AutoConfig.from_pretrained(folder.path)
    with torch.device("meta"):
        skeleton = AutoModelForImageClassification.from_config(config)
    try:
        head = find_head(skeleton)
    except HeadError as error:
        raise InjectError(f"model folder '{folder.source}': {error}") from error
    return f"{head.path}.weight", head.num_classes


def check_hf_folder(folder: ModelFolder) -> None:
    """Refuse a folder whose weights lack the head its config describes, or hold it with other rows."""
    key, rows = _expected_head(folder)
    shapes = tensor_shapes(folder.weights)
    where = f"model folder '{folder.source}'"
    if key not in shapes:
        raise InjectError(f"{where} has no '{key}' in its weights: it holds no trained classification head "
                          "for its config's model; give an image-classification checkpoint")
    if shapes[key][0] != rows:
        raise InjectError(f"config.json of {where} has {rows} labels (id2label / num_labels) but the weights' head "
                          f"'{key.removesuffix('.weight')}' has {shapes[key][0]} rows; fix the config to match the weights")


def load_hf_folder(folder: ModelFolder) -> nn.Module:
    """The transformers image classifier of ``folder``, in eval mode."""
    from transformers import AutoModelForImageClassification

    check_hf_folder(folder)
    try:
        with hub_offline(), no_hf_progress_bars():
            model = AutoModelForImageClassification.from_pretrained(folder.path)
    except (OSError, RuntimeError, ValueError) as error:
        first = str(error).strip().splitlines()[0]
        raise InjectError(f"model folder '{folder.source}': transformers cannot load it ({first})") from error
    return model.eval()


def save_pretrained(model: nn.Module, staging: Path, shard_bytes: int | None = None) -> dict[str, Any]:
    """``model.save_pretrained`` into ``staging`` (one file, or shards of ``shard_bytes``); returns the config dict."""
    with no_hf_progress_bars():
        model.save_pretrained(staging, max_shard_size=ONE_FILE if shard_bytes is None else shard_bytes)
    return model.config.to_dict()


def save_hf_folder(folder: ModelFolder, model: nn.Module, record: dict[str, Any], staging: Path) -> dict[str, Any]:
    """Write the extended transformers ``model`` into ``staging`` in ``folder``'s layout; returns its config."""
    return save_pretrained(model, staging, largest_file_bytes(folder.weights) if folder.weights.sharded else None)
