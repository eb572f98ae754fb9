"""The registries ``find_head`` / ``extend_head`` consult, one per question, and the path helpers they share.

Each library's conventions register here (``adapters.modules``: timm and torchvision;
``adapters.transformers_heads``: Hugging Face transformers), so head discovery grows by registering
rules, never by branching on the model's type:

- *locators* ``model -> path | None``: the dotted path of the layer that produces the logits;
- *wrappers* ``model -> path | None``: the path of an inner model whose head is the head (transformers'
  ``TimmWrapperForImageClassification.timm_model``); its head is found there and its paths prefixed;
- *branch rules* ``(model, main path) -> [paths]``: further layers whose logits the model averages with
  the main layer's (distillation heads);
- *norm wrappers* ``class name -> attribute``: a module whose classifier reads a ``BatchNorm1d`` output;
- *bookkeepers* ``(module, old C, new C) -> None``: run on the model and every ancestor of the head's
  layers after new rows are appended, to keep class counts and label maps in step with the head.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from ..registry import Registry

HeadLocator = Callable[[nn.Module], "str | None"]
WrapperRule = Callable[[nn.Module], "str | None"]
BranchRule = Callable[[nn.Module, str], "list[str]"]
Bookkeeper = Callable[[nn.Module, int, int], None]

LOCATORS: Registry[HeadLocator] = Registry("head locator")
WRAPPERS: Registry[WrapperRule] = Registry("model wrapper")
BRANCH_RULES: Registry[BranchRule] = Registry("head branch rule")
BOOKKEEPERS: Registry[Bookkeeper] = Registry("class-count bookkeeper")
# Wrapper classes that normalise the classifier's input: class name -> attribute of the norm.
NORM_WRAPPERS: dict[str, str] = {}


def register_locator(name: str) -> Callable[[HeadLocator], HeadLocator]:
    """Register a head locator under ``name``; locators run in registration order."""
    return LOCATORS.register(name)


def register_wrapper(name: str) -> Callable[[WrapperRule], WrapperRule]:
    """Register a rule naming the inner model of a wrapper (``None`` when ``model`` is no such wrapper)."""
    return WRAPPERS.register(name)


def register_branch_rule(name: str) -> Callable[[BranchRule], BranchRule]:
    """Register a rule listing the layers whose logits the model averages with the main layer's."""
    return BRANCH_RULES.register(name)


def register_bookkeeper(name: str) -> Callable[[Bookkeeper], Bookkeeper]:
    """Register a function that updates one module's record of the class count after new rows."""
    return BOOKKEEPERS.register(name)


def register_norm_wrapper(class_name: str, norm_attribute: str) -> None:
    """Modules of class ``class_name`` hold a ``BatchNorm1d`` at ``norm_attribute`` that feeds their classifier."""
    if NORM_WRAPPERS.get(class_name, norm_attribute) != norm_attribute:
        raise ValueError(f"norm wrapper '{class_name}' is already registered with '{NORM_WRAPPERS[class_name]}'")
    NORM_WRAPPERS[class_name] = norm_attribute


def is_classifier_layer(module: nn.Module) -> bool:
    """True for layers whose output channels are class logits: Linear or 1x1 Conv2d."""
    if isinstance(module, nn.Linear):
        return True
    return isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1) and module.groups == 1


def path_of(model: nn.Module, target: nn.Module) -> str | None:
    """Dotted path of ``target`` inside ``model`` (identity), or ``None``."""
    return next((name for name, m in model.named_modules() if m is target), None)


def last_classifier_layer(model: nn.Module, root: str = "") -> str | None:
    """Path of the last Linear / 1x1 conv at or under ``root``, or ``None``."""
    module = model.get_submodule(root) if root else model
    paths = [name for name, m in module.named_modules() if is_classifier_layer(m)]
    if not paths:
        return None
    return ".".join(p for p in (root, paths[-1]) if p)


def classifier_path(model: nn.Module, module: object) -> str | None:
    """Path of ``module`` if it is a classifier layer, else of the last one inside it."""
    if not isinstance(module, nn.Module):
        return None
    path = path_of(model, module)
    if path is None or is_classifier_layer(module):
        return path
    return last_classifier_layer(model, path)


def classifier_at(model: nn.Module, path: str) -> str | None:
    """The classifier layer at ``path`` (or the last one inside it); ``None`` where there is no such module."""
    try:
        module = model.get_submodule(path)
    except AttributeError:
        return None
    return path if is_classifier_layer(module) else last_classifier_layer(model, path)
