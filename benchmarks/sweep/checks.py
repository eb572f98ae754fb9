"""Adapter coverage checks: does every timm / torchvision classifier extend correctly?

:func:`check_model` builds one architecture with random weights (no downloads), finds its head,
appends 3 random rows with :func:`inject.adapters.extend_head` and checks that

1. the output has ``C + 3`` logits and the first ``C`` equal the original's (``torch.equal``; a
   difference within float tolerance is a pass with reason ``float rounding in GEMM tail``);
2. the extended model runs through ``torch.jit.trace`` when the original does;
3. the state dict, written to safetensors and read back (the CLI's ``load_weights``), has its head
   found on shapes (``find_head_in_state_dict``), is extended with the same rows
   (``extend_state_dict``) and loads strictly into a model built with ``num_classes=C + 3`` whose
   logits equal the module-extended model's.

:func:`run_isolated` runs a check in a forked child with a time and memory limit, so one crash
cannot end a sweep. ``python -m benchmarks.coverage`` is the command line over these functions.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import nn

from inject.adapters import (
    HeadError, ModuleHead, extend_head, extend_state_dict, find_head, find_head_in_state_dict, is_classifier_layer,
)

from .isolation import run_isolated, runs_within

NEW_ROWS = 3
SMALL_SIZE = 64  # input side tried first; the model's default input size is the fallback
MAX_PARAMS = 750_000_000  # ~6 GB: fp32 weights held twice at the peak (file tensors + reloaded model)
SMALL_TRIAL_S = 15.0  # a small-input forward slower than this falls back to the default size
SHM_PARAMS = 250_000_000  # files of smaller models are written to /dev/shm (memory), larger ones to disk
GEMM_TAIL = "float rounding in GEMM tail"


def family_of(library: str, name: str) -> str:
    """timm module (``resnet``, ``vision_transformer``) or torchvision module of ``name``'s builder."""
    if library == "timm":
        import timm

        module = timm.models.model_entrypoint(name).__module__
    else:
        import torchvision

        module = torchvision.models.get_model_builder(name).__module__
    return module.rsplit(".", 1)[-1]


def list_names(library: str) -> list[str]:
    """Every classifier name of ``library`` (``timm`` or ``torchvision``)."""
    if library == "timm":
        import timm

        return list(timm.list_models())
    import torchvision

    return list(torchvision.models.list_models(module=torchvision.models))


@contextmanager
def _no_random_init() -> Iterator[None]:
    """Make ``Tensor.normal_/uniform_`` write zeros (cheap, and in range for rejection samplers) and
    ``erfinv_`` a no-op while a model is built: :func:`fill_random` fills the weights after."""
    names = ("normal_", "uniform_", "erfinv_")
    saved = {n: getattr(torch.Tensor, n) for n in names}
    torch.Tensor.normal_ = torch.Tensor.uniform_ = lambda self, *args, **kwargs: self.zero_()
    torch.Tensor.erfinv_ = lambda self: self
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(torch.Tensor, n, fn)


NOISE_SIZE = 1 << 22  # one block of N(0, 1) samples, tiled into every parameter (much cheaper than normal_)


@torch.no_grad()
def fill_random(model: nn.Module, seed: int = 0) -> None:
    """Fast random weights: ``[out, ...]`` tensors ``N(0, 1/fan_in)``, 1-D weights/scales ~1, the rest ``N(0, 0.02)``.

    Values are a fixed block of normal samples tiled from a per-tensor offset: random enough for
    checks of exactness, at memory-copy speed.
    """
    noise = torch.randn(NOISE_SIZE, generator=torch.Generator().manual_seed(seed))
    for index, (name, p) in enumerate(model.named_parameters()):
        if p.dim() >= 2 and p.shape[0] > 1:
            mean, std = 0.0, 1.0 / math.sqrt(max(1, p[0].numel()))
        elif name.endswith(("weight", "gamma", "scale")) and p.dim() == 1:
            mean, std = 1.0, 0.02
        else:
            mean, std = 0.0, 0.02
        flat = p.data.view(-1) if p.is_contiguous() else None
        if flat is None:
            p.data.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + index)))
            flat = p.data
        else:
            start = (index * 104_729) % (NOISE_SIZE // 2)
            for i in range(0, flat.numel(), NOISE_SIZE - start):
                chunk = flat[i : i + NOISE_SIZE - start]
                chunk.copy_(noise[start : start + chunk.numel()])
        flat.mul_(std).add_(mean)


def _create(library: str, name: str, **kwargs: Any) -> nn.Module:
    if library == "timm":
        import timm

        return timm.create_model(name, pretrained=False, **kwargs)
    import torchvision

    return torchvision.models.get_model(name, weights=None, **kwargs)


def count_params(library: str, name: str) -> int | None:
    """Parameter count from a build on the meta device (``None`` if the model cannot be built there)."""
    try:
        with torch.device("meta"):
            return sum(p.numel() for p in _create(library, name).parameters())
    except Exception:
        return None


def build(library: str, name: str, fill: bool = True, **kwargs: Any) -> nn.Module:
    """``name`` with fast random weights (``fill=False``: uninitialised, to be loaded), in eval mode."""
    with _no_random_init():
        model = _create(library, name, **kwargs)
    if fill:
        fill_random(model)
    return model.eval()


SIZE_KWARGS = {"timm": ({"img_size": SMALL_SIZE},), "torchvision": ({"image_size": SMALL_SIZE}, {"input_size": (SMALL_SIZE, SMALL_SIZE)})}


def _default_size(model: nn.Module) -> int:
    """Side of the model's default input: timm's ``pretrained_cfg``, 299 for Inception v3, else 224."""
    cfg = getattr(model, "pretrained_cfg", None)
    if isinstance(cfg, dict) and "input_size" in cfg:
        return cfg["input_size"][-1]
    return 299 if type(model).__name__ == "Inception3" else 224


def class_kwargs(library: str, name: str) -> dict[str, Any]:
    """``num_classes=1000`` for timm models whose default build has no classifier (feature encoders)."""
    if library != "timm":
        return {}
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    return {"num_classes": 1000} if cfg is not None and getattr(cfg, "num_classes", None) == 0 else {}


def build_with_input(library: str, name: str) -> tuple[nn.Module, dict[str, Any], torch.Tensor, torch.Tensor]:
    """(model, build kwargs, input ``[2, 3, S, S]``, logits) at the smallest size that works."""
    torch.manual_seed(0)
    x_small = torch.randn(2, 3, SMALL_SIZE, SMALL_SIZE)
    for size_kwargs in (*SIZE_KWARGS[library], {}):
        kwargs = {**class_kwargs(library, name), **size_kwargs}
        try:
            model = build(library, name, **kwargs)
        except Exception:
            continue  # the builder takes no such size argument, or not this size
        if runs_within(model, x_small, SMALL_TRIAL_S):
            with torch.no_grad():
                return model, kwargs, x_small, model(x_small)
        if size_kwargs:
            continue
        size = _default_size(model)
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            return model, kwargs, x, model(x)
    raise RuntimeError("no build succeeded")


def _trace_runs(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    """(traced model's output, '') or (None, error) for ``torch.jit.trace``."""
    try:
        with torch.no_grad():
            traced = torch.jit.trace(model, x, check_trace=False)
            return traced(x), ""
    except Exception as error:
        return None, f"{type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}"


def compare(a: torch.Tensor, b: torch.Tensor) -> tuple[bool, str, float]:
    """(acceptable, reason, max abs diff): equal, or close enough to be GEMM rounding."""
    if a.shape != b.shape:
        return False, f"shape {tuple(a.shape)} != {tuple(b.shape)}", math.inf
    if torch.equal(a, b):
        return True, "", 0.0
    diff = (a - b).abs().nan_to_num(math.inf).max().item()
    if not bool(torch.isfinite(a).all()):
        return False, "non-finite logits", diff
    close = torch.allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, a.abs().max().item()))
    return close, GEMM_TAIL if close else f"logits differ (max abs diff {diff:.3g})", diff


def _unshare(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Clone tensors that share storage (tied weights): safetensors refuses them."""
    seen: set[int] = set()
    out = {}
    for key, value in state.items():
        ptr = value.untyped_storage().data_ptr()
        out[key] = value.clone() if ptr in seen else value
        seen.add(ptr)
    return out


def _state_dict_check(library: str, name: str, kwargs: dict, path: str, head, rows, x, expected, result: dict) -> str:
    """Read the safetensors file back with the CLI's function, find and extend its head, load it strictly
    into a fresh ``num_classes=C + 3`` model; returns a failure reason or ''."""
    from inject.checkpoint import load_weights

    tensors, metadata = load_weights(path)
    shapes = {k: tuple(v.shape) for k, v in tensors.items()}
    sd_head = find_head_in_state_dict(shapes, metadata)
    want = (head.paths, tuple(a.path for a in head.aux))
    got = (sd_head.prefixes, tuple(a.prefix for a in sd_head.aux))
    if got != want:
        return f"state-dict head {got} != module head {want}"
    try:
        bare = find_head_in_state_dict(shapes)
        result["sd_heuristic"] = "same" if (bare.prefixes, tuple(a.prefix for a in bare.aux)) == want else f"differs: {bare.prefixes}"
    except Exception as error:
        result["sd_heuristic"] = f"error: {str(error)[:120]}"
    extended = extend_state_dict(tensors, sd_head, *rows)
    del tensors
    reloaded = build(library, name, fill=False, **{**kwargs, "num_classes": head.num_classes + NEW_ROWS})
    # safetensors keeps no module versions; torchvision's MNASNet refuses a state dict without them
    extended = _with_versions(extended, reloaded)
    reloaded.load_state_dict(extended, strict=True)
    del extended
    with torch.no_grad():
        ok, reason, _ = compare(expected, reloaded(x))
    return "" if ok or reason == GEMM_TAIL else f"reloaded state dict: {reason}"


def _with_versions(state: dict, model: nn.Module) -> dict:
    """``state`` as an OrderedDict carrying ``model``'s per-module version metadata (``_metadata``)."""
    from collections import OrderedDict

    ordered = OrderedDict(state)
    ordered._metadata = getattr(model.state_dict(), "_metadata", OrderedDict())
    return ordered


def _write_state(model: nn.Module, library: str, name: str, num_classes: int, folder: str) -> str:
    """The model's state dict as ``folder/model.safetensors`` with the metadata ``inject.save_model`` writes."""
    from inject.checkpoint import write_safetensors

    metadata = {"num_classes": str(num_classes), **({"architecture": name} if library == "timm" else {})}
    path = os.path.join(folder, "model.safetensors")
    write_safetensors(path, _unshare(dict(model.state_dict())), metadata)
    return path


def check_model(library: str, name: str, max_params: int = MAX_PARAMS) -> dict[str, Any]:
    """Run every check on one architecture; ``status`` is ``pass``, ``fail`` or ``skip`` with a ``reason``."""
    start = time.perf_counter()
    result: dict[str, Any] = {"library": library, "family": family_of(library, name), "status": "fail", "reason": ""}
    params = count_params(library, name)
    result["params"] = params
    if params is not None and params > max_params:
        return {**result, "status": "skip", "reason": f"too large: {params / 1e6:.0f}M params need > ~6 GB",
                "seconds": round(time.perf_counter() - start, 2)}
    try:
        result["reason"] = _checks(library, name, result)
    except NotAClassifier as error:
        return {**result, "status": "skip", "reason": str(error), "seconds": round(time.perf_counter() - start, 2)}
    except Exception as error:
        result["reason"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
    result["status"] = "pass" if not result["reason"] or result["reason"] == GEMM_TAIL else "fail"
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


class NotAClassifier(Exception):
    """The architecture has no classification layer at all (a feature encoder that ignores ``num_classes``)."""


def _find_classifier(model: nn.Module, classes: int) -> ModuleHead:
    """``find_head(model)``; raises :class:`NotAClassifier` when no layer has ``classes`` outputs."""
    try:
        return find_head(model)
    except HeadError:
        if not any(is_classifier_layer(m) and m.weight.shape[0] == classes for m in model.modules()):
            raise NotAClassifier(f"not a classifier: {type(model).__name__} has no layer with {classes} outputs, "
                                 f"even when built with num_classes={classes}") from None
        raise


def _checks(library: str, name: str, result: dict) -> str:
    model, kwargs, x, before = build_with_input(library, name)
    result["input"] = x.shape[-1]
    head = _find_classifier(model, kwargs.get("num_classes", 1000))
    result.update(head=list(head.paths), aux=[a.path for a in head.aux], norm=head.norm is not None,
                  bias=head.bias is not None, conv=isinstance(head.layer, nn.Conv2d), classes=head.num_classes)
    small = (result.get("params") or MAX_PARAMS) < SHM_PARAMS and os.path.isdir("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="inject-coverage-", dir="/dev/shm" if small else None) as folder:
        path = _write_state(model, library, name, head.num_classes, folder)
        torch.manual_seed(1)
        weight = head.weight
        rows = (torch.randn(NEW_ROWS, weight.shape[1]) * weight.std(), None if head.bias is None else torch.randn(NEW_ROWS) * 0.1)
        extended = extend_head(model, head, *rows, inplace=True)
        del model
        with torch.no_grad():
            after = extended(x)
        expected = (x.shape[0], head.num_classes + NEW_ROWS)
        if after.shape != expected:
            return f"extended output has shape {tuple(after.shape)}, expected {expected}"
        ok, gemm, diff = compare(before, after[:, : head.num_classes])
        result["max_abs_diff"] = diff
        if not ok:
            return f"seen logits changed: {gemm}"
        traced_after, error = _trace_runs(extended, x)
        if traced_after is None:  # was it the extension? the original is traced only in this case
            del extended
            _, original_error = _trace_runs(build(library, name, **kwargs), x)
            if not original_error:
                return f"extended model does not trace: {error}"
            result["trace"] = f"original does not trace ({original_error})"
        else:
            result["trace"] = "ok"
        extended = traced_after = None
        head = _detached(head)
        return _state_dict_check(library, name, kwargs, path, head, rows, x, after, result) or gemm


def _detached(head):
    """Just the paths and row count of ``head`` (so the model's tensors can be freed)."""
    stub = nn.Linear(1, head.num_classes, bias=False, device="meta")
    return ModuleHead(head.path, stub, None, tuple(ModuleHead(b.path, stub) for b in head.branches),
                      tuple(ModuleHead(a.path, stub) for a in head.aux))


def select(names: list[str], only: str | None, limit: int | None) -> list[str]:
    """Names matching the ``only`` regex (search), at most ``limit`` of them."""
    chosen = [n for n in names if only is None or re.search(only, n)]
    return chosen[:limit] if limit is not None else chosen
