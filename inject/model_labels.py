"""Where a model in memory keeps its class names, read and written in that library's own terms.

* transformers (``PreTrainedModel``, the timm wrapper included): ``config.id2label`` / ``label2id`` /
  ``num_labels``; the placeholders ``LABEL_0, LABEL_1, ...`` that transformers invents for a config
  without labels count as no names. The injection record goes into the config as ``inject``, so
  ``save_pretrained`` writes it to ``config.json``.
* timm: ``pretrained_cfg['label_names']`` (and the record as ``pretrained_cfg['inject']``).
* anything else (torchvision): the attributes ``label_names`` and ``inject``.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from torch import nn

PLACEHOLDER = re.compile(r"LABEL_\d+")


def _hf_config(model: nn.Module) -> Any:
    """The transformers config of ``model``, or ``None`` for a model without one."""
    config = getattr(model, "config", None)
    return config if hasattr(config, "id2label") else None


def carried_labels(model: nn.Module) -> list[str] | None:
    """The class names ``model`` carries, in row order, or ``None`` where it carries none."""
    config = _hf_config(model)
    if config is not None:
        names = [config.id2label[i] for i in sorted(config.id2label)]
        return None if all(PLACEHOLDER.fullmatch(str(n)) for n in names) else [str(n) for n in names]
    cfg = getattr(model, "pretrained_cfg", None)
    known = cfg.get("label_names") if isinstance(cfg, dict) else getattr(model, "label_names", None)
    return None if known is None else list(known)


def injection_record(model: nn.Module) -> dict[str, Any] | None:
    """The ``inject`` record that :func:`attach_labels` stored on ``model``, if any."""
    config = _hf_config(model)
    if config is not None:
        return getattr(config, "inject", None)
    cfg = getattr(model, "pretrained_cfg", None)
    return cfg.get("inject") if isinstance(cfg, dict) else getattr(model, "inject", None)


def attach_labels(model: nn.Module, label_names: Sequence[str], record: dict[str, Any]) -> None:
    """Store all ``C + K`` ``label_names`` and the injection ``record`` where ``model``'s library keeps them.

    For a transformers model: ``config.id2label``, ``label2id`` (only when the names are unique, as
    transformers itself does), ``num_labels`` follows, and the model's own ``num_labels`` attribute.
    """
    config = _hf_config(model)
    if config is not None:
        config.id2label = dict(enumerate(label_names))
        config.label2id = {n: i for i, n in enumerate(label_names)} if len(set(label_names)) == len(label_names) else {}
        config.inject = record
        if isinstance(getattr(model, "num_labels", None), int):
            model.num_labels = len(label_names)
        return
    cfg = getattr(model, "pretrained_cfg", None)
    if isinstance(cfg, dict):
        model.pretrained_cfg = {**cfg, "label_names": list(label_names), "inject": record}
    else:
        model.label_names, model.inject = list(label_names), record
