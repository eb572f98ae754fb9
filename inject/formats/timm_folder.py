"""timm folders (``config.json`` + ``model.safetensors``, as ``save_for_hf`` and the Hub's ``timm/`` repos hold them).

Read: the config is checked against the weights (``num_classes`` and the labels against the head's rows)
before the model is built with ``timm.create_model`` and the tensors loaded strictly.

Written: the same layout, loadable three ways: ``timm.create_model("local-dir:OUT", pretrained=True)``,
``AutoModelForImageClassification.from_pretrained(OUT)`` and ``pipeline("image-classification", model=OUT)``.
The config keeps every key, ``pretrained_cfg`` included, with ``num_classes``, ``label_names`` and
``label_descriptions`` updated (``formats.labels`` keeps the input's convention) and the injection record
added as ``inject``. ``model_args.num_classes`` is dropped: transformers passes ``num_classes`` itself and
fails with "got multiple values for keyword argument 'num_classes'" on timm's own exports otherwise.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..adapters import HeadError, find_head_in_state_dict
from ..errors import InjectError
from .folder import ModelFolder, write_config
from .labels import LabelConvention, config_labels, imagenet_descriptions
from .weights import read_tensors, write_tensors


def _head_rows(folder: ModelFolder, tensors: dict[str, torch.Tensor]) -> int:
    """Rows of the head in ``tensors``, checked against the config's ``num_classes`` and labels."""
    where = f"model folder '{folder.source}'"
    try:
        head = find_head_in_state_dict({k: v.shape for k, v in tensors.items()}, {"architecture": folder.config["architecture"]})
    except HeadError as error:
        raise InjectError(f"{where}: {error}") from error
    rows = tensors[head.weight_key].shape[0]
    declared = folder.config.get("num_classes")
    if declared is not None and declared != rows:
        raise InjectError(f"config.json of {where} says num_classes {declared} but the weights' head '{head.prefix}' "
                          f"has {rows} rows; fix num_classes (and the labels) to match the weights")
    names, _ = config_labels(folder.config)
    if names is not None and len(names) != rows:
        raise InjectError(f"config.json of {where} has {len(names)} label_names but the head has {rows} rows; "
                          "give one label per head row")
    return rows


def _pretrained_cfg(config: dict[str, Any]) -> dict[str, Any]:
    """The model's ``pretrained_cfg`` as timm builds it from a folder: the config's, top-level labels and count on top."""
    cfg = dict(config.get("pretrained_cfg") or {})
    names, descriptions = config_labels(config)
    cfg.update({"num_classes": config.get("num_classes", cfg.get("num_classes"))})
    if names is not None:
        cfg.update(label_names=names, label_descriptions=descriptions or None)
    from timm.models import PretrainedCfg

    return {k: v for k, v in cfg.items() if v is not None and k in PretrainedCfg.__dataclass_fields__}


def load_timm_folder(folder: ModelFolder) -> nn.Module:
    """The timm model of ``folder`` with its weights, in eval mode, its labels in ``pretrained_cfg``."""
    import timm

    where = f"model folder '{folder.source}'"
    if folder.weights.sharded:
        raise InjectError(f"{where} has sharded weights, which timm folders do not use (timm loads one weights file); "
                          "merge the shards into model.safetensors, or load it through transformers")
    tensors = read_tensors(folder.weights)
    rows = _head_rows(folder, tensors)
    args = {k: v for k, v in (folder.config.get("model_args") or {}).items() if k != "num_classes"}
    try:
        model = timm.create_model(folder.config["architecture"], pretrained=False, num_classes=rows,
                                  pretrained_cfg_overlay=_pretrained_cfg(folder.config), **args)
        model.load_state_dict(tensors)
    except (RuntimeError, TypeError, ValueError) as error:
        first = str(error).strip().splitlines()[0]
        raise InjectError(f"{where}: timm cannot build '{folder.config['architecture']}' from it ({first}); "
                          "check config.json against the weights") from error
    return model.eval()


def timm_output_config(config: dict[str, Any], model: nn.Module, record: dict[str, Any] | None) -> dict[str, Any]:
    """A timm folder's ``config`` for ``model``: its count, its labels in the config's convention, the record.

    ``record`` is the injection record (``None`` for a model that was not extended): its last
    ``record['injected']`` labels are the new classes.
    """
    config = dict(config)
    labels = list(model.pretrained_cfg.get("label_names") or [])
    num_classes, injected = model.pretrained_cfg["num_classes"], (record or {}).get("injected", 0)
    convention = LabelConvention.of(config)
    seen, new = labels[: num_classes - injected], labels[num_classes - injected:]
    if convention.kind == "none":
        seen = imagenet_descriptions(num_classes - injected) or seen
    names, descriptions = convention.output_labels(seen, new, (record or {}).get("synsets", {}))
    config["num_classes"] = num_classes
    config.pop("label_descriptions", None)
    if len(names) == num_classes:
        config["label_names"] = names
    if descriptions:
        config["label_descriptions"] = descriptions
    pretrained = dict(config.get("pretrained_cfg") or {})
    pretrained["num_classes"] = num_classes
    for key in ("label_names", "label_descriptions", "inject"):  # top level holds them; stale copies would disagree
        pretrained.pop(key, None)
    config["pretrained_cfg"] = pretrained
    if "model_args" in config:
        config["model_args"] = {k: v for k, v in config["model_args"].items() if k != "num_classes"}
    if record is not None:
        config["inject"] = record
    return config


def save_timm_folder(folder: ModelFolder, model: nn.Module, record: dict[str, Any], staging: Path) -> dict[str, Any]:
    """Write the extended timm ``model`` into ``staging`` in ``folder``'s layout; returns the written config."""
    config = timm_output_config(folder.config, model, record)
    write_config(staging, config)
    write_tensors(staging, model.state_dict(), folder.weights)
    return config
