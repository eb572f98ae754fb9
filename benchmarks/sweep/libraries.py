"""The libraries the coverage sweep covers: how each lists its classifiers, names their family, and checks one."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from . import checks, transformers_checks


@dataclass(frozen=True)
class Library:
    """One library of the sweep.

    Attributes:
        names: every classifier name the library offers (timm model names, transformers class names).
        family: ``name`` -> its family (timm / torchvision module, transformers ``model_type``).
        check: ``name`` -> the result dict of every check (``status`` pass / fail / skip and ``reason``).
    """

    names: Callable[[], list[str]]
    family: Callable[[str], str]
    check: Callable[[str], dict[str, Any]]


def _module_library(library: str) -> Library:
    return Library(partial(checks.list_names, library), partial(checks.family_of, library), partial(checks.check_model, library))


LIBRARIES: dict[str, Library] = {
    "timm": _module_library("timm"),
    "torchvision": _module_library("torchvision"),
    "transformers": Library(transformers_checks.list_classes, transformers_checks.model_type_of, transformers_checks.check_class),
}
