"""Find and extend the final classification layer of a timm or torchvision ``nn.Module``.

The head is located by a registry of *locators*, tried in order. Each locator looks at the model
in one library's terms and returns the dotted path of the layer that produces the logits, or
``None`` when the convention does not apply. The layer itself must be an ``nn.Linear`` or a
1x1 ``nn.Conv2d`` (DLA, DPN, BiT, SqueezeNet): both are ``C`` rows of ``D`` weights and a bias.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .errors import HeadError

HeadLocator = Callable[[nn.Module], "str | None"]
_LOCATORS: dict[str, HeadLocator] = {}

# torchvision has no head API; these attributes hold the classifier (or a Sequential ending in it).
TORCHVISION_HEAD_PATHS = ("fc", "heads.head", "head", "classifier")


def register_locator(name: str) -> Callable[[HeadLocator], HeadLocator]:
    """Register a head locator under ``name``; locators run in registration order."""

    def wrap(fn: HeadLocator) -> HeadLocator:
        _LOCATORS[name] = fn
        return fn

    return wrap


def is_classifier_layer(module: nn.Module) -> bool:
    """True for layers whose output channels are class logits: Linear or 1x1 Conv2d."""
    if isinstance(module, nn.Linear):
        return True
    return isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1) and module.groups == 1


def _path_of(model: nn.Module, target: nn.Module) -> str | None:
    return next((name for name, m in model.named_modules() if m is target), None)


def _last_classifier_layer(model: nn.Module, root: str = "") -> str | None:
    module = model.get_submodule(root) if root else model
    paths = [name for name, m in module.named_modules() if is_classifier_layer(m)]
    if not paths:
        return None
    return ".".join(p for p in (root, paths[-1]) if p)


@register_locator("timm")
def _timm_get_classifier(model: nn.Module) -> str | None:
    get_classifier = getattr(model, "get_classifier", None)
    if not callable(get_classifier):
        return None
    classifier = get_classifier()
    if isinstance(classifier, tuple):  # distilled models: (head, head_dist)
        classifier = classifier[0]
    if not isinstance(classifier, nn.Module):
        return None
    path = _path_of(model, classifier)
    if path is None or is_classifier_layer(classifier):
        return path
    return _last_classifier_layer(model, path)


@register_locator("torchvision")
def _known_attribute(model: nn.Module) -> str | None:
    for path in TORCHVISION_HEAD_PATHS:
        try:
            module = model.get_submodule(path)
        except AttributeError:
            continue
        if is_classifier_layer(module):
            return path
        found = _last_classifier_layer(model, path)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class ModuleHead:
    """The classification layer of a model: ``C`` output rows of width ``D``.

    Attributes:
        path: dotted module path of the layer inside the model (e.g. ``"head.fc"``).
        layer: the ``nn.Linear`` or 1x1 ``nn.Conv2d`` itself.
    """

    path: str
    layer: nn.Module

    @property
    def weight(self) -> torch.Tensor:
        """Weight rows, shape ``[C, D]`` (a view; 1x1 conv kernels are flattened)."""
        return self.layer.weight.detach().flatten(1)

    @property
    def bias(self) -> torch.Tensor | None:
        """Bias, shape ``[C]``, or ``None`` for heads built with ``bias=False``."""
        return None if self.layer.bias is None else self.layer.bias.detach()

    @property
    def num_classes(self) -> int:
        return self.weight.shape[0]


def find_head(model: nn.Module) -> ModuleHead:
    """Locate the layer that produces ``model``'s logits.

    Raises:
        HeadError: no locator found a Linear or 1x1-conv classifier (e.g. ``num_classes=0``).
    """
    for locate in _LOCATORS.values():
        path = locate(model)
        if path is not None:
            layer = model.get_submodule(path)
            if is_classifier_layer(layer):
                return ModuleHead(path, layer)
    raise HeadError(
        f"no classification layer found in {type(model).__name__}: expected a Linear or 1x1 Conv2d "
        f"at get_classifier() or one of {', '.join(TORCHVISION_HEAD_PATHS)}; "
        "build the model with num_classes > 0"
    )


def _widened_layer(old: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Module:
    out_features, in_features = weight.shape
    kwargs = dict(bias=bias is not None, device=old.weight.device, dtype=old.weight.dtype)
    if isinstance(old, nn.Linear):
        new = nn.Linear(in_features, out_features, **kwargs)
    else:
        new = nn.Conv2d(in_features, out_features, kernel_size=1, **kwargs)
    with torch.no_grad():
        new.weight.copy_(weight.reshape(new.weight.shape))
        if bias is not None:
            new.bias.copy_(bias)
    new.train(old.training)
    return new


def extend_head(
    model: nn.Module,
    head: ModuleHead,
    new_weight: torch.Tensor,
    new_bias: torch.Tensor | None,
    inplace: bool = False,
) -> nn.Module:
    """Return ``model`` with ``K`` rows appended to its classifier.

    Args:
        new_weight: ``[K, D]`` rows for the new classes.
        new_bias: ``[K]`` biases, or ``None`` when the head has no bias.
        inplace: modify ``model`` itself instead of a deep copy.

    The seen rows and biases are copied bit-exactly, so the first ``C`` logits do not change.
    """
    if (new_bias is None) != (head.bias is None):
        raise HeadError(f"head '{head.path}' {'has' if head.bias is not None else 'has no'} bias; new_bias must match")
    target = model if inplace else copy.deepcopy(model)
    old = target.get_submodule(head.path)
    weight = torch.cat([old.weight.detach().flatten(1), new_weight.to(old.weight)])
    bias = None if new_bias is None else torch.cat([old.bias.detach(), new_bias.to(old.bias)])
    parent_path, _, name = head.path.rpartition(".")
    parent = target.get_submodule(parent_path) if parent_path else target
    setattr(parent, name, _widened_layer(old, weight, bias))
    _set_num_classes(target, weight.shape[0])
    return target


def _set_num_classes(model: nn.Module, num_classes: int) -> None:
    """Keep timm's bookkeeping (``num_classes``, ``pretrained_cfg``) in step with the head."""
    if isinstance(getattr(model, "num_classes", None), int):
        model.num_classes = num_classes
    cfg = getattr(model, "pretrained_cfg", None)
    if isinstance(cfg, dict):
        model.pretrained_cfg = {**cfg, "num_classes": num_classes}
