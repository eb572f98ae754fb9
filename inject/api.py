"""The Python API: ``inject(model, new_names)``, ``labels(model)``, ``save_model(model, path)``, ``load_model(source)``."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from torch import nn

from .adapters import find_head
from .calibration.base import DEFAULT_CALIBRATION
from .checkpoint import write_safetensors
from .errors import InjectError
from .formats import load_folder, open_source, save_module_folder
from .formats.single_file import single_file_model
from .mappers.base import DEFAULT_MAPPER
from .model_labels import attach_labels, injection_record
from .names import default_seen_names
from .pipeline import DEFAULT_DESCRIPTORS, Request, inject_into
from .targets import ModuleTarget
from .trust import shown_lines

Classes = "Sequence[str] | Any"  # class names, or a 2-D array/tensor of descriptors


def labels(model: nn.Module) -> list[str]:
    """Label names of every output of ``model``'s head, seen and injected, in row order.

    Read from ``config.id2label`` (transformers), ``pretrained_cfg['label_names']`` (timm) or
    ``model.label_names`` (``inject.model_labels``); a 1000-class head with none is taken to be ImageNet-1K.
    """
    target = ModuleTarget(model, find_head(model))
    return default_seen_names(target.head.num_classes, target.known_labels(), target.where)


def inject(
    model: nn.Module,
    new: Classes,
    *,
    seen: Classes | None = None,
    mapper: str = DEFAULT_MAPPER,
    encoder: Any = None,
    gamma: float | None = None,
    calibration: str = DEFAULT_CALIBRATION,
    prior_ratio: float | None = None,
    calibrate_images: str | os.PathLike | None = None,
    inplace: bool = False,
    progress: bool = False,
    allow_existing: bool = False,
    descriptions: Mapping[str, Sequence[str]] | None = None,
    descriptors: str = DEFAULT_DESCRIPTORS,
    images: str | os.PathLike | Mapping[str, Sequence[Any]] | None = None,
    unlabelled: str | os.PathLike | Sequence[Any] | None = None,
) -> nn.Module:
    """Return ``model`` with one more output per new class, predicted from names (and any photos).

    Args:
        model: a timm, torchvision or transformers classifier (any head ``inject.adapters.find_head`` finds).
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
        inplace: modify ``model`` instead of a copy. progress: show progress bars (encoding names, running photos).
        allow_existing: skip new names that are already seen classes (with a ``UserWarning``)
            instead of raising ``InjectError``; it is still raised if no name is left.
        descriptions: ``{new name: [free texts]}``, e.g. ``{"okapi": ["a forest giraffe with striped legs"]}``:
            joined as one text to the name's gloss (with ``descriptors="names"``: to the name).
        descriptors: ``"knowledge"`` (default: name, WordNet gloss and hierarchy, and descriptions, weighted
            on the seen rows) or ``"names"`` (the name's prompt templates, and descriptions, alone).
        images: photos of some new classes: a folder with one subfolder per class (named after it) or ``{name:
            [paths, PIL images or [3, H, W] tensors]}``. They reshape those classes' rows (``inject.photos``) and
            choose the offset (unless ``gamma`` or ``calibrate_images``); the record holds each class's
            leave-photos-out top-1.
        unlabelled: unsorted photos of the new classes (a folder, searched recursively, or a list as for ``images``):
            the new rows adapt to how they cluster and they choose the offset (``inject.unlabelled``).

    The first ``C`` outputs are bit-identical to the original's; ``labels(result)`` gives the ``C + K`` names and
    ``inject.model_labels.injection_record(result)`` the record: each name's synset, per class (``record['classes']``)
    its image-free ``expected_top1``, ``expected_recognised`` and ``near_chance`` (``inject.trust``); classes
    expected near chance or read oddly are in ``record['warnings']`` and raised as one ``UserWarning``.
    """
    request = Request(new, seen, mapper, encoder, gamma, calibration, prior_ratio, calibrate_images, allow_existing,
                      progress, descriptions=descriptions, descriptors=descriptors, images=images, unlabelled=unlabelled)
    injection = inject_into(ModuleTarget(model, find_head(model), inplace), request)
    attach_labels(injection.model, injection.label_names, injection.record)
    warn_classes(injection.record.get("warnings") or [])
    return injection.model


def warn_classes(found: Sequence[Mapping[str, Any]]) -> None:
    """One ``UserWarning`` listing the record's class warnings, one line each (``inject.trust.warnings``)."""
    if found:
        lines = "\n".join(f"  {line}" for line in shown_lines(found))
        warnings.warn(f"{len(found)} new class(es) expected near chance or read oddly (record['warnings'] lists "
                      f"them):\n{lines}", UserWarning, stacklevel=3)


def save_model(model: nn.Module, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path``: a folder in its library's own layout, or one ``.safetensors`` file.

    * a folder (a path without the ``.safetensors`` suffix): a transformers model through ``save_pretrained``
      (``config.json`` with ``id2label``), a timm model as timm's ``save_for_hf`` writes it (``config.json`` +
      ``model.safetensors``, loadable by ``timm.create_model("local-dir:PATH", pretrained=True)`` and by
      transformers), each with a model card ``README.md`` when ``inject`` extended it;
    * ``*.safetensors``: the state dict with timm-style metadata (``num_classes``, ``label_names`` when
      known, ``architecture`` for a timm model, the injection record), loadable with
      ``timm.create_model(arch, num_classes=N, checkpoint_path=path)``.

    Either is written atomically.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        save_module_folder(model, path, injection_record(model))
        return
    cfg = getattr(model, "pretrained_cfg", None)
    cfg = cfg if isinstance(cfg, dict) else {}
    metadata = {"num_classes": str(find_head(model).num_classes)}
    try:
        metadata["label_names"] = json.dumps(labels(model))
    except InjectError:
        pass  # no names travel with this model; the CLI will ask for --seen-names
    if cfg.get("architecture"):
        metadata["architecture"] = cfg["architecture"]
    record = injection_record(model)
    if record is not None:
        metadata["inject"] = json.dumps(record)
    write_safetensors(path, model.state_dict(), metadata)


def load_model(source: str | os.PathLike) -> nn.Module:
    """A model from a timm or transformers folder, a Hugging Face Hub id, or a ``.safetensors`` file, in eval mode.

    Folders and Hub ids are built by their own library (``inject.formats``); a single file needs
    ``architecture`` metadata naming its timm model (``inject.save_model`` and the CLI write it).
    """
    opened = open_source(source)
    if isinstance(opened, Path):
        return single_file_model(opened)
    return load_folder(opened)
