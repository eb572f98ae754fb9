"""The Python API: ``inject(model, new_names)`` and ``labels(model)``."""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import torch
from torch import nn

from adapters import extend_head, find_head

from . import __version__
from .calibration.stacking import labelled_images, model_logits, stacking_gamma
from .checkpoint import write_safetensors
from .errors import InjectError
from .mappers import DEFAULT_MAPPER, create_mapper
from .names import default_seen_names, select_new_names
from .rows import predict_new_rows
from .semantics import as_descriptors, encode_names, resolve_encoder

Classes = "Sequence[str] | Any"  # class names, or a 2-D array/tensor of descriptors


def _is_names(classes: Any) -> bool:
    return isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes)


def labels(model: nn.Module) -> list[str]:
    """Label names of every output of ``model``'s head, seen and injected, in row order.

    Read from ``pretrained_cfg['label_names']`` (timm) or ``model.label_names``; a 1000-class head
    with neither is taken to be ImageNet-1K.
    """
    num_classes = find_head(model).num_classes
    cfg = getattr(model, "pretrained_cfg", None)
    known = (cfg or {}).get("label_names") if isinstance(cfg, dict) else getattr(model, "label_names", None)
    return default_seen_names(num_classes, known)


def _attach(model: nn.Module, **info: Any) -> None:
    """Store label names and the injection record where timm keeps them (else as attributes)."""
    cfg = getattr(model, "pretrained_cfg", None)
    if isinstance(cfg, dict):
        model.pretrained_cfg = {**cfg, **info}
    else:
        for key, value in info.items():
            setattr(model, key, value)


def _descriptors(
    new: Any, seen: Any, model: nn.Module, num_classes: int, encoder: Any, progress: bool, allow_existing: bool
):
    """(seen descriptors [C, E], new descriptors [K, E], seen names, new names, encoder name)."""
    if isinstance(new, str):
        raise InjectError(f"new must be a list of class names, not the string '{new}'; write [{new!r}]")
    if _is_names(new):
        if seen is not None and not _is_names(seen):
            raise InjectError("new classes are names, so seen must be names too (or None)")
        seen_names = list(seen) if seen is not None else _known_labels(model, num_classes)
        if len(seen_names) != num_classes:
            raise InjectError(f"seen has {len(seen_names)} names but the head has {num_classes} rows; give one per row")
        new_names = select_new_names(list(new), seen_names, allow_existing)
        text_encoder = resolve_encoder(encoder)
        encoded = encode_names(seen_names + new_names, text_encoder, progress=progress)
        return encoded[:num_classes], encoded[num_classes:], seen_names, new_names, text_encoder.name
    if seen is None or _is_names(seen):
        raise InjectError("new classes are descriptor vectors, so seen must be vectors of the same width, one per head row")
    new_vectors, seen_vectors = as_descriptors(new, "new descriptors"), as_descriptors(seen, "seen descriptors")
    seen_names = _known_labels(model, num_classes, fallback=True)
    new_names = [f"new_{i}" for i in range(new_vectors.shape[0])]
    return seen_vectors, new_vectors, seen_names, new_names, "precomputed"


def _known_labels(model: nn.Module, num_classes: int, fallback: bool = False) -> list[str]:
    try:
        return labels(model)
    except InjectError:
        if fallback:
            return [f"class_{i}" for i in range(num_classes)]
        raise


def inject(
    model: nn.Module,
    new: Classes,
    *,
    seen: Classes | None = None,
    mapper: str = DEFAULT_MAPPER,
    encoder: Any = None,
    gamma: float | None = None,
    calibration: str = "virtual",
    prior_ratio: float | None = None,
    calibrate_images: str | os.PathLike | None = None,
    inplace: bool = False,
    progress: bool = False,
    allow_existing: bool = False,
) -> nn.Module:
    """Return ``model`` with one more output per new class, predicted without images.

    Args:
        model: a timm or torchvision classifier (any model whose head ``adapters.find_head`` finds).
        new: ``K`` new class names, or a ``[K, E]`` array/tensor of descriptors.
        seen: names of the ``C`` existing classes (default: the model's labels, ImageNet-1K for
            1000 rows), or a ``[C, E]`` descriptor array when ``new`` is one.
        mapper: a registered mapper (``inject.mappers.list_mappers()``).
        encoder: sentence encoder for names: ``None`` (packaged all-MiniLM-L6-v2), a
            sentence-transformers name or local path, or a ``SentenceTransformer``.
        gamma: seen/unseen bias offset for the new classes; ``None`` chooses it with ``calibration``.
        calibration: image-free method for the offset (``inject.calibration.list_calibrations()``):
            ``virtual`` (default), ``margin``, ``prior`` (ZLA, ``log(prior_ratio)``) or ``none``.
        prior_ratio: prior of one new class over one seen class for ``prior`` (default ``C / K``).
        calibrate_images: a folder with one subfolder of photos per class (seen or new, named after
            the class): the offset is chosen by calibrated stacking on them instead.
        inplace: modify ``model`` instead of a copy.
        progress: show progress bars while the sentence encoder loads and encodes.
        allow_existing: skip new names that are already seen classes (with a ``UserWarning``)
            instead of raising ``InjectError``; it is still raised if no name is left.

    The first ``C`` outputs are bit-identical to the original model's; ``labels(result)`` gives
    the ``C + K`` names.
    """
    head = find_head(model)
    seen_desc, new_desc, seen_names, new_names, encoder_name = _descriptors(
        new, seen, model, head.num_classes, encoder, progress, allow_existing
    )
    if calibrate_images is not None:
        if gamma is not None:
            raise InjectError("give either gamma or calibrate_images, not both: the photos choose gamma")
        paths, photo_labels = labelled_images(calibrate_images, seen_names + new_names)  # checked before any fit
        gamma = 0.0
    rows = predict_new_rows(head.weight, head.bias, seen_desc, new_desc, create_mapper(mapper), gamma, calibration, prior_ratio)
    result = extend_head(model, head, rows.weight, rows.bias, inplace=inplace)
    chosen = rows.calibration
    if calibrate_images is not None:
        if head.bias is None:
            raise InjectError(f"head '{head.path}' has no bias, so calibrate_images has no offset to set; leave it out")
        new = torch.arange(head.num_classes, head.num_classes + len(new_names))
        chosen = stacking_gamma(model_logits(result, paths, progress=progress), photo_labels, new)
        with torch.no_grad():
            find_head(result).layer.bias[head.num_classes :] += chosen.gamma
    record = {"mapper": mapper, "encoder": encoder_name, "gamma": chosen.gamma, "calibration": chosen.record(),
              "injected": len(new_names), "version": __version__}
    _attach(result, label_names=seen_names + new_names, inject=record)
    return result


def save_model(model: nn.Module, path: str | os.PathLike) -> None:
    """Write ``model``'s state dict to ``path`` (safetensors, atomically) with timm-style metadata.

    Metadata: ``num_classes``, ``label_names`` (JSON list) when known, ``architecture`` when the
    model is a timm model, and the injection record if ``inject`` produced it. The file loads back with
    ``timm.create_model(arch, num_classes=N, checkpoint_path=path)``.
    """
    cfg = getattr(model, "pretrained_cfg", None)
    cfg = cfg if isinstance(cfg, dict) else {}
    num_classes = find_head(model).num_classes
    metadata = {"num_classes": str(num_classes)}
    try:
        metadata["label_names"] = json.dumps(labels(model))
    except InjectError:
        pass  # no names travel with this model; the CLI will ask for --seen-names
    if cfg.get("architecture"):
        metadata["architecture"] = cfg["architecture"]
    record = cfg.get("inject", getattr(model, "inject", None))
    if record is not None:
        metadata["inject"] = json.dumps(record)
    write_safetensors(path, model.state_dict(), metadata)
