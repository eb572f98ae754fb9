"""Find and extend the final classification layer of a timm, torchvision or transformers ``nn.Module``.

The head is located by a registry of *locators*, tried in order (``adapters.rules``; transformers'
rules: ``adapters.transformers_heads``). Each locator looks at the model
in one library's terms and returns the dotted path of the layer that produces the logits, or
``None`` when the convention does not apply. The layer itself must be an ``nn.Linear`` or a
1x1 ``nn.Conv2d`` (DLA, DPN, BiT, SqueezeNet): both are ``C`` rows of ``D`` weights and a bias.

Heads of several layers are found as well:

- *branches* whose logits the model averages (named by a registered branch rule; timm's: the
  ``get_classifier()`` tuple or ``pretrained_cfg['classifier']`` tuple: DeiT ``head`` + ``head_dist``,
  LeViT distilled, CrossViT, VOLO's ``aux_head``) all receive the same new rows (split by width when widths differ);
- a ``BatchNorm1d`` in front of the layer (LeViT's ``NormLinear``) is folded into the rows that
  :class:`ModuleHead` reports and unfolded when new rows are written, so the norm stays in place and
  the seen rows stay bit-exact;
- *auxiliary* heads (torchvision GoogLeNet ``aux1``/``aux2``, Inception v3 ``AuxLogits``: top-level
  modules named ``aux*`` that end in a layer with ``C`` rows) run only in training; they get ``K`` copies
  of their own mean seen row, so training-mode outputs also have ``C + K`` logits and the state dict
  loads into a model built with ``num_classes=C + K``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch
from torch import nn

from . import _rows
from .errors import HeadError
from .rules import (
    BOOKKEEPERS, BRANCH_RULES, LOCATORS, NORM_WRAPPERS, WRAPPERS, classifier_at, classifier_path, is_classifier_layer,
    register_bookkeeper, register_branch_rule, register_locator, register_norm_wrapper,
)

__all__ = ["ModuleHead", "extend_head", "find_head", "is_classifier_layer", "register_locator"]

# torchvision has no head API; these attributes hold the classifier (or a Sequential ending in it).
TORCHVISION_HEAD_PATHS = ("fc", "heads.head", "head", "classifier")
register_norm_wrapper("NormLinear", "bn")  # timm's LeViT / RepViT head: BatchNorm1d then Linear


def _timm_classifiers(model: nn.Module) -> list[nn.Module]:
    """``get_classifier()`` as a list: one module, a distillation tuple, or a ModuleList (CrossViT)."""
    get_classifier = getattr(model, "get_classifier", None)
    if not callable(get_classifier):
        return []
    classifier = get_classifier()
    if isinstance(classifier, (tuple, list, nn.ModuleList)):
        return list(classifier)
    return [classifier]


@register_locator("timm")
def _timm_get_classifier(model: nn.Module) -> str | None:
    classifiers = _timm_classifiers(model)
    return classifier_path(model, classifiers[0]) if classifiers else None


@register_locator("torchvision")
def _known_attribute(model: nn.Module) -> str | None:
    for path in TORCHVISION_HEAD_PATHS:
        found = classifier_at(model, path)
        if found is not None:
            return found
    return None


@register_branch_rule("timm")
def _timm_branches(model: nn.Module, main: str) -> list[str]:
    """The rest of ``get_classifier()`` and the ``pretrained_cfg['classifier']`` tuple."""
    found = [classifier_path(model, m) for m in _timm_classifiers(model)[1:]]
    cfg = getattr(model, "pretrained_cfg", None)
    prefixes = cfg.get("classifier") if isinstance(cfg, dict) else None
    found += [classifier_at(model, prefix) for prefix in (prefixes if isinstance(prefixes, (tuple, list)) else ())]
    return [path for path in found if path]


@register_bookkeeper("timm")
def _timm_num_classes(module: nn.Module, old: int, new: int) -> None:
    """timm's ``num_classes`` (model and head modules) and ``pretrained_cfg['num_classes']``."""
    if isinstance(getattr(module, "num_classes", None), int) and module.num_classes == old:
        module.num_classes = new
    cfg = getattr(module, "pretrained_cfg", None)
    if isinstance(cfg, dict):
        module.pretrained_cfg = {**cfg, "num_classes": new}


@dataclass(frozen=True)
class ModuleHead:
    """The classification layer of a model: ``C`` output rows of width ``D``.

    Attributes:
        path: dotted module path of the (main) layer inside the model (e.g. ``"head.fc"``).
        layer: the ``nn.Linear`` or 1x1 ``nn.Conv2d`` itself.
        norm: a ``BatchNorm1d`` applied to the layer's input (LeViT ``NormLinear``), or ``None``.
        branches: further layers whose logits the model averages with this one (distillation heads),
            each a single-layer ``ModuleHead``; they receive the same new rows.
        aux: auxiliary (training-only) heads, each a single-layer ``ModuleHead``.
    """

    path: str
    layer: nn.Module
    norm: nn.Module | None = None
    branches: tuple["ModuleHead", ...] = ()
    aux: tuple["ModuleHead", ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        """Paths of the main layer and its branches, in order."""
        return (self.path, *(b.path for b in self.branches))

    def _own_rows(self) -> "_rows.Rows":
        weight = self.layer.weight.detach().flatten(1)
        bias = None if self.layer.bias is None else self.layer.bias.detach()
        if self.norm is None:
            return weight, bias
        return _rows.fold(weight, bias, *_norm_affine(self.norm))

    def _effective(self) -> "_rows.Rows":
        return _rows.combine([self._own_rows(), *(b._own_rows() for b in self.branches)])

    @property
    def weight(self) -> torch.Tensor:
        """Effective rows ``[C, D]`` acting on the pre-logits (a view for a plain one-layer head;
        1x1 conv kernels flattened; norm folded; branches combined as in ``adapters._rows``)."""
        return self._effective()[0]

    @property
    def bias(self) -> torch.Tensor | None:
        """Effective bias, shape ``[C]``, or ``None`` for heads built with ``bias=False``."""
        return self._effective()[1]

    @property
    def num_classes(self) -> int:
        """``C``, the number of output rows."""
        return self.layer.weight.shape[0]


def _norm_affine(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    weight = None if norm.weight is None else norm.weight.detach()
    bias = None if norm.bias is None else norm.bias.detach()
    return _rows.norm_affine(weight, bias, norm.running_mean, norm.running_var, norm.eps)


def _single(model: nn.Module, path: str) -> ModuleHead:
    """A one-layer head at ``path``, with the norm of its ``NormLinear``-style wrapper if any."""
    parent_path, _, _ = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    norm_attr = NORM_WRAPPERS.get(type(parent).__name__)
    norm = getattr(parent, norm_attr, None) if norm_attr else None
    return ModuleHead(path, model.get_submodule(path), norm if isinstance(norm, nn.BatchNorm1d) else None)


def _branch_paths(model: nn.Module, main: str, rows: int) -> list[str]:
    """Other classifier layers with ``rows`` outputs that a registered branch rule names."""
    paths: list[str] = []
    for rule in BRANCH_RULES:
        for path in rule(model, main):
            if path != main and path not in paths and model.get_submodule(path).weight.shape[0] == rows:
                paths.append(path)
    return paths


def _aux_paths(model: nn.Module, taken: tuple[str, ...], rows: int) -> list[str]:
    """Last layer with ``rows`` outputs of each top-level ``aux*`` module (GoogLeNet, Inception v3)."""
    paths = []
    for name, child in model.named_children():
        if not name.lower().startswith("aux") or child is None:
            continue
        layers = [f"{name}.{p}" if p else name for p, m in child.named_modules()
                  if is_classifier_layer(m) and m.weight.shape[0] == rows]
        if layers and layers[-1] not in taken:
            paths.append(layers[-1])
    return paths


def _prefixed(head: ModuleHead, prefix: str) -> ModuleHead:
    """``head`` of an inner model, its paths seen from the model that holds it at ``prefix``."""
    return replace(head, path=f"{prefix}.{head.path}", branches=tuple(_prefixed(b, prefix) for b in head.branches),
                   aux=tuple(_prefixed(a, prefix) for a in head.aux))


def _located(model: nn.Module, path: str) -> ModuleHead:
    """The head whose main layer is at ``path``, with its branches and auxiliary heads."""
    rows = model.get_submodule(path).weight.shape[0]
    paths = sorted([path, *_branch_paths(model, path, rows)])  # name order, as the state-dict path
    main, *branches = [_single(model, p) for p in paths]
    aux = tuple(_single(model, p) for p in _aux_paths(model, tuple(paths), rows))
    return ModuleHead(main.path, main.layer, main.norm, tuple(branches), aux)


def find_head(model: nn.Module) -> ModuleHead:
    """Locate the layer that produces ``model``'s logits (and its branches and auxiliary heads).

    A registered wrapper (transformers' timm wrapper) is looked through: the head of its inner model,
    with paths from ``model``. Otherwise the locators run in order (``adapters.rules``).

    Raises:
        HeadError: no locator found a Linear or 1x1-conv classifier (e.g. ``num_classes=0``), or a
            locator knows the model cannot take new classes (the message says why).
    """
    for inner in WRAPPERS:
        prefix = inner(model)
        if prefix is not None:
            return _prefixed(find_head(model.get_submodule(prefix)), prefix)
    for locate in LOCATORS:
        path = locate(model)
        if path is not None and is_classifier_layer(model.get_submodule(path)):
            return _located(model, path)
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


def _append_rows(model: nn.Module, head: ModuleHead, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    """Replace the single layer ``head.path`` in ``model`` by one with ``weight``/``bias`` rows appended."""
    old = model.get_submodule(head.path)
    if head.norm is not None:
        weight, bias = _rows.unfold(weight, bias, *_norm_affine(head.norm), where=head.path)
    if (bias is None) != (old.bias is None):
        raise HeadError(f"layer '{head.path}' {'has' if old.bias is not None else 'has no'} bias; new_bias must match")
    full_weight = torch.cat([old.weight.detach().flatten(1), weight.to(old.weight)])
    full_bias = None if bias is None else torch.cat([old.bias.detach(), bias.to(old.bias)])
    parent_path, _, name = head.path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, _widened_layer(old, full_weight, full_bias))


def extend_head(
    model: nn.Module,
    head: ModuleHead,
    new_weight: torch.Tensor,
    new_bias: torch.Tensor | None,
    inplace: bool = False,
) -> nn.Module:
    """Return ``model`` with ``K`` rows appended to its classifier.

    Args:
        new_weight: ``[K, D]`` effective rows for the new classes (same space as ``head.weight``).
        new_bias: ``[K]`` biases, or ``None`` when the head has no bias.
        inplace: modify ``model`` itself instead of a deep copy.

    The seen rows and biases are copied bit-exactly, so the first ``C`` logits do not change. Every
    branch gets the same new rows (through its norm, split by width); auxiliary heads get ``K`` copies
    of their mean seen row.
    """
    if (new_bias is None) != (head.bias is None):
        raise HeadError(f"head '{head.path}' {'has' if head.bias is not None else 'has no'} bias; new_bias must match")
    target = model if inplace else copy.deepcopy(model)
    singles = [_single(target, p) for p in head.paths]
    pieces = _rows.split(new_weight, [s.layer.weight.shape[1] for s in singles])
    for single, piece in zip(singles, pieces):
        _append_rows(target, single, piece, new_bias)
    for aux in head.aux:
        layer = target.get_submodule(aux.path)
        bias = None if layer.bias is None else layer.bias.detach()
        _append_rows(target, _single(target, aux.path), *_rows.neutral_rows(layer.weight.detach().flatten(1), bias, len(new_weight)))
    _set_num_classes(target, head, head.num_classes + len(new_weight))
    return target


def _set_num_classes(model: nn.Module, head: ModuleHead, num_classes: int) -> None:
    """Run every registered bookkeeper on the model and each ancestor of the head's layers (timm's
    ``num_classes`` and ``pretrained_cfg``; transformers' ``num_labels`` and ``config.id2label``)."""
    ancestors = {""} | {".".join(p.split(".")[:i]) for p in head.paths for i in range(1, p.count(".") + 1)}
    for path in sorted(ancestors):
        module = model.get_submodule(path) if path else model
        for keep in BOOKKEEPERS:
            keep(module, head.num_classes, num_classes)
