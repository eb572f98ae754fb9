"""The CLI's work as functions: inject the classes of a class file into a model file, folder or Hub id.

``run`` reads what the model argument names (``inject.formats.open_source``) and takes one of two paths:

* a weights file: the state dict is extended where it lies (``StateDictTarget``) and written as a
  ``.safetensors`` file with the input's metadata, updated;
* a model folder (local, or a Hub id's snapshot): the model is built by its own library and extended in
  memory (``ModuleTarget``), then written as a folder in the input's layout, with a model card.

Every input is checked before the sentence encoder runs; names skipped by ``allow_existing`` are reported
with ``warnings.warn`` (the CLI prints them as notes).
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from .adapters import find_head
from .checkpoint import label_names_from_metadata, write_safetensors
from .errors import InjectError
from .formats import WEIGHT_SUFFIXES, ModelFolder, load_folder, open_source, write_folder
from .formats.folder import check_output_folder
from .formats.single_file import load_head
from .model_labels import attach_labels, carried_labels
from .names import class_lines, is_named_set, read_class_file, split_descriptions
from .pipeline import Injection, Request, inject_into
from .targets import ModuleTarget, StateDictTarget


def default_output(model_path: Path) -> Path:
    """``model.safetensors`` (or ``model.pth``) -> ``model-injected.safetensors`` beside it."""
    return model_path.with_name(f"{model_path.stem}-injected.safetensors")


def default_folder_output(folder: ModelFolder) -> Path:
    """``DIR`` -> ``DIR-injected`` beside it; a Hub id ``owner/name`` -> ``name-injected`` in the working folder."""
    if folder.source != str(folder.path):
        return Path.cwd() / f"{folder.source.rstrip('/').rsplit('/', 1)[-1].split('@')[0]}-injected"
    return folder.path.resolve().with_name(f"{folder.path.resolve().name}-injected")


def check_output(output: Path, model_path: Path, force: bool) -> None:
    """Refuse an output that would replace the input (without ``force``), is a folder, or cannot be created."""
    if output.resolve() == model_path.resolve() and not force:
        raise InjectError(f"output '{output}' is the input model; choose another -o or pass --force to replace it")
    if output.is_dir():
        raise InjectError(f"output '{output}' is a folder; give a file path such as {output / 'model.safetensors'}")
    if output.suffix != ".safetensors":
        raise InjectError(f"output '{output}' must end in .safetensors: the output of a weights file is a safetensors file")
    if not output.parent.is_dir():
        raise InjectError(f"output folder '{output.parent}' does not exist; create it first")
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise InjectError(f"output folder '{output.parent}' is not writable; choose another -o")


def _request(classes: Path, seen_names: Path | None, quiet: bool, options: dict[str, Any]) -> Request:
    """The checked request of a class file (names and their ``name: text`` descriptions) and the options."""
    known = read_class_file(seen_names, "--seen-names file") if seen_names else None
    new_names, descriptions = split_descriptions(class_lines(classes, known))
    request = Request(new_names, known, progress=not quiet, seen_from=f"--seen-names file '{seen_names}'",
                      descriptions=descriptions or None, **options)
    request.check()
    return request


def _without_own_classes(request: Request, classes: Path, labels: Sequence[str] | None) -> Request:
    """A named set (``imagenet21k``) less the model's own classes, when the model carries its labels."""
    if is_named_set(classes) and request.seen is None and labels is not None:
        return replace(request, new=class_lines(classes, labels))
    return request


def run(
    model: str | Path,
    classes: Path,
    output: Path | None = None,
    seen_names: Path | None = None,
    head_key: str | None = None,
    force: bool = False,
    quiet: bool = False,
    **options: Any,
) -> tuple[Path, Injection]:
    """Inject the classes of ``classes`` into ``model`` (a file, folder or Hub id); returns (output, the injection).

    ``options`` are ``inject.pipeline.Request`` fields (mapper, encoder, gamma, calibration, ...).
    """
    if Path(model).suffix in WEIGHT_SUFFIXES or Path(model).is_file():  # checked in run_file's order: output, classes, file
        return run_file(Path(model), classes, output, seen_names, head_key, force, quiet, **options)
    folder = open_source(model)  # not a file: a folder, or a Hub id's snapshot folder
    if head_key is not None:
        raise InjectError("--head-key applies to weight files; a folder's head is found in the model its library builds")
    return run_folder(folder, classes, output, seen_names, force, quiet, **options)


def run_file(
    model_path: Path, classes: Path, output: Path | None = None, seen_names: Path | None = None,
    head_key: str | None = None, force: bool = False, quiet: bool = False, **options: Any,
) -> tuple[Path, Injection]:
    """``run`` on a weights file: the output is a ``.safetensors`` file with the input's metadata, updated."""
    output = output or default_output(model_path)
    check_output(output, model_path, force)
    request = _request(classes, seen_names, quiet, options)
    tensors, metadata, head = load_head(model_path, head_key)
    labels = label_names_from_metadata(metadata, f"model file '{model_path}'")
    request = _without_own_classes(request, classes, labels)
    injection = inject_into(StateDictTarget(tensors, metadata, head, model_path), request)
    names = injection.label_names
    try:
        write_safetensors(output, injection.model, {
            **metadata,
            "label_names": json.dumps(names),
            "num_classes": str(len(names)),
            "inject": json.dumps(injection.record),
        })
    except OSError as error:
        raise InjectError(
            f"cannot write output '{output}': {error.strerror or error}; check the folder is writable and has space"
        ) from error
    return output, injection


def run_folder(
    folder: ModelFolder, classes: Path, output: Path | None = None, seen_names: Path | None = None,
    force: bool = False, quiet: bool = False, **options: Any,
) -> tuple[Path, Injection]:
    """``run`` on a model folder: the output is a folder in the input's layout (``inject.formats.write_folder``)."""
    output = output or default_folder_output(folder)
    if output.suffix == ".safetensors":
        raise InjectError(f"output '{output}' is a .safetensors file, but the input is a model folder: "
                          "give a folder path for -o (the output keeps the input's layout)")
    check_output_folder(output, folder.path, force)
    request = _request(classes, seen_names, quiet, options)
    model = load_folder(folder)
    request = _without_own_classes(request, classes, carried_labels(model))
    injection = inject_into(ModuleTarget(model, find_head(model), inplace=True), request)
    attach_labels(injection.model, injection.label_names, injection.record)
    write_folder(folder, injection.model, injection.record, injection.label_names[-injection.record["injected"]:],
                 output, force)
    return output, injection
