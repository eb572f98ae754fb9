"""Coverage checks for every class of the installed transformers' image-classification mapping.

:func:`check_class` builds one class offline from its small config (``transformers_configs``), with
the sweep's random weights (``checks.fill_random``, seed 0) and random BatchNorm statistics (so folded
norms are not identities), runs its own image processor on two real photos and checks that

1. ``find_head`` finds a Linear head, and ``adapters.features.head_inputs`` reproduce the logits
   (``features @ head.weight.T + head.bias``; for branches that read different tokens, DeiT's, only
   the new rows are exact: the mean of the branches is a convention there);
2. ``inject.inject(model, new, seen=seen)`` with random descriptor arrays (the real API: mapper,
   offset, labels) gives ``C + 3`` logits, the first ``C`` equal to the original's (``torch.equal``,
   or within float tolerance), seen rows of every layer bit-exact, and ``find_head`` finds the wider head;
3. the extended model still runs through ``torch.jit.trace`` where the original does;
4. ``save_pretrained`` then ``AutoModelForImageClassification.from_pretrained`` loads every tensor
   (none missing, unexpected or mismatched) and gives the same logits, with ``config.id2label`` naming
   all ``C + 3`` classes (the new ones ``new_0`` ... under their own names);
5. ``pipeline("image-classification", model=..., image_processor=...)`` on one photo returns exactly the
   ``C + 3`` names of ``id2label``, its top label the argmax of the model's logits (where the original
   model runs in the pipeline at all).

It also records whether ``find_head_in_state_dict`` finds the same layers on the saved weights' key
names alone (informative, as in the timm sweep). A class whose head ``find_head`` refuses (a
``HeadError``: not a classifier layer) or that cannot be built here is a ``skip`` with the reason.
"""
from __future__ import annotations

import re
import tempfile
import time
from typing import Any

import torch
from torch import nn

from . import transformers_configs as configs
from .checks import GEMM_TAIL, compare, fill_random

NEW_ROWS = 3
DESCRIPTOR_WIDTH = 16
PHOTOS = ("n01440764_tench.jpg", "n01443537_goldfish.jpg")  # in <data>/imagenet1k_samples_224
PLACEHOLDER = re.compile(r"LABEL_\d+")


def list_classes() -> list[str]:
    """Every class of the installed transformers' image-classification mapping, in mapping order."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES as mapping

    return [name for names in mapping.values() for name in (names if isinstance(names, tuple) else (names,))]


def model_type_of(name: str) -> str:
    """The ``model_type`` whose mapping entry lists class ``name``."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES as mapping

    return next(kind for kind, names in mapping.items() if name in (names if isinstance(names, tuple) else (names,)))


class CannotCheck(Exception):
    """The class cannot take new classes, or cannot be built here: a ``skip`` with this reason."""


@torch.no_grad()
def randomize_norm_stats(model: nn.Module, seed: int = 0) -> None:
    """BatchNorm running means in ``[-0.5, 0.5]`` and variances in ``[0.5, 2]`` (a folded norm is then no identity)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
            module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) * 1.5 + 0.5)


def build(name: str) -> nn.Module:
    """Class ``name`` from its small config, random weights (seed 0), eval mode; :class:`CannotCheck` if it cannot be built."""
    import transformers

    torch.manual_seed(0)
    try:
        model = getattr(transformers, name)(configs.small_config(model_type_of(name), name))
    except ImportError as error:  # a backend this machine lacks (DiNAT: natten)
        backend = re.search(r"requires the (\S+) library", str(error))
        why = f"needs the {backend.group(1)} package, which is not installed" if backend else str(error).strip()[:160]
        raise CannotCheck(f"cannot be built here: {why}") from None
    fill_random(model)
    randomize_norm_stats(model)
    return model.eval()


def photos() -> list[Any]:
    """The real photos the checks run on (RGB PIL images)."""
    from PIL import Image

    from inject.assets import data_dir

    folder = data_dir() / "imagenet1k_samples_224"
    return [Image.open(folder / name).convert("RGB") for name in PHOTOS]


def logits_of(output: Any) -> torch.Tensor:
    """The logits of a transformers output or its traced dict (PP-LCNet returns them as ``last_hidden_state``)."""
    return output["logits"] if "logits" in output else next(iter(output.values()))


@torch.no_grad()
def run(model: nn.Module, inputs: dict) -> torch.Tensor:
    return logits_of(model(**inputs))


def _find(model: nn.Module, result: dict):
    """``find_head(model)``, recorded; a ``HeadError`` (the model cannot take new classes) is :class:`CannotCheck`."""
    from inject.adapters import HeadError, find_head

    try:
        head = find_head(model)
    except HeadError as error:
        raise CannotCheck(str(error)) from None
    result.update(head=list(head.paths), norm=head.norm is not None, bias=head.bias is not None, classes=head.num_classes)
    return head


def _features_check(model: nn.Module, head, inputs: dict, before: torch.Tensor, result: dict) -> None:
    """The head's effective input reproduces the logits (exactly, or by the mean-of-branches convention)."""
    from inject.adapters.features import head_inputs

    features = head_inputs(model, head, inputs)
    rebuilt = features @ head.weight.T + (0 if head.bias is None else head.bias)
    exact, _, _ = compare(before, rebuilt)
    result["features"] = "exact" if exact else "mean-of-branches convention"
    if not exact and not head.branches:
        raise AssertionError("head_inputs do not reproduce the logits of a one-layer head")


def _seen_rows_kept(model: nn.Module, extended: nn.Module, head) -> bool:
    """Every layer of the head keeps its ``C`` seen rows (and biases) bit-exactly."""
    for path in head.paths:
        old, new = model.get_submodule(path), extended.get_submodule(path)
        if not torch.equal(new.weight[: head.num_classes], old.weight):
            return False
        if old.bias is not None and not torch.equal(new.bias[: head.num_classes], old.bias):
            return False
    return True


def _inject(model: nn.Module, head, inputs: dict, before: torch.Tensor, result: dict) -> tuple[nn.Module, str]:
    """The real API with random descriptors; returns (extended model, failure reason or '')."""
    import inject
    from inject.adapters import find_head
    from inject.adapters.features import head_inputs

    generator = torch.Generator().manual_seed(1)
    seen = torch.randn(head.num_classes, DESCRIPTOR_WIDTH, generator=generator)
    extended = inject.inject(model, torch.randn(NEW_ROWS, DESCRIPTOR_WIDTH, generator=generator), seen=seen)
    after = run(extended, inputs)
    if after.shape != (before.shape[0], head.num_classes + NEW_ROWS):
        return extended, f"extended output has shape {tuple(after.shape)}"
    ok, reason, result["max_abs_diff"] = compare(before, after[:, : head.num_classes])
    if not ok:
        return extended, f"seen logits changed: {reason}"
    result["label_names"] = [extended.config.id2label[i] for i in range(len(extended.config.id2label))]
    if not _seen_rows_kept(model, extended, head):
        return extended, "seen rows not kept bit-exactly"
    wide = find_head(extended)
    if wide.paths != head.paths or wide.num_classes != head.num_classes + NEW_ROWS:
        return extended, f"find_head on the extended model: {wide.paths} with {wide.num_classes} rows"
    new = slice(head.num_classes, None)
    rebuilt = head_inputs(extended, wide, inputs) @ wide.weight[new].T + (0 if wide.bias is None else wide.bias[new])
    if not compare(after[:, new], rebuilt)[0]:
        return extended, "head_inputs of the extended model do not reproduce the new logits"
    return extended, ""


def _trace(model: nn.Module, inputs: dict) -> tuple[torch.Tensor | None, str]:
    """(traced model's logits, '') or (None, error) for ``torch.jit.trace`` on the keyword inputs."""
    try:
        with torch.no_grad():
            traced = torch.jit.trace(model, example_kwarg_inputs=dict(inputs), check_trace=False, strict=False)
            return logits_of(traced(**inputs)), ""
    except Exception as error:  # the message's first line, reprs of outputs or tensors cut at their "("
        first = str(error).splitlines()[0] if str(error) else ""
        return None, f"{type(error).__name__}: {re.sub(r'[(].*', '(...)', first)[:160]}"


def _trace_check(model: nn.Module, extended: nn.Module, inputs: dict, after: torch.Tensor, result: dict) -> str:
    """The extended model traces (and its trace gives its logits) wherever the original traces."""
    traced, error = _trace(extended, inputs)
    if traced is None:
        _, original_error = _trace(model, inputs)
        if not original_error:
            return f"extended model does not trace: {error}"
        result["trace"] = f"original does not trace ({original_error})"
        return ""
    result["trace"] = "ok"
    return "" if compare(after, traced)[0] else "traced logits differ from the extended model's"


def _round_trip(extended: nn.Module, inputs: dict, after: torch.Tensor, folder: str, result: dict) -> tuple[nn.Module | None, str]:
    """``save_pretrained`` -> ``AutoModelForImageClassification.from_pretrained``: (reloaded model, failure or '')."""
    from transformers import AutoModelForImageClassification

    extended.save_pretrained(folder)
    reloaded, info = AutoModelForImageClassification.from_pretrained(folder, output_loading_info=True)
    reloaded.eval()
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if problems:
        return None, f"from_pretrained: {str(problems)[:200]}"
    names = [reloaded.config.id2label[i] for i in range(len(reloaded.config.id2label))]
    if names != result["label_names"]:
        return None, f"reloaded id2label {names[-NEW_ROWS:]} != {result['label_names'][-NEW_ROWS:]}"
    ok, reason, _ = compare(after, run(reloaded, inputs))
    return reloaded, "" if ok else f"reloaded model: {reason}"


def _pipeline_labels(model: nn.Module, processor: Any, photo: Any) -> list[dict]:
    from transformers import pipeline

    classify = pipeline("image-classification", model=model, image_processor=processor, device="cpu")
    return classify(photo, top_k=model.config.num_labels)


def _pipeline_check(model: nn.Module, reloaded: nn.Module, processor: Any, photo: Any, result: dict) -> str:
    """The pipeline returns every name of ``id2label`` (none a placeholder), its top one the logits' argmax."""
    try:
        answers = _pipeline_labels(reloaded, processor, photo)
    except Exception as error:
        try:
            _pipeline_labels(model, processor, photo)
        except Exception as original:
            result["pipeline"] = f"original fails in the pipeline too ({type(original).__name__}: {str(original)[:120]})"
            return ""
        return f"pipeline: {type(error).__name__}: {str(error)[:160]}"
    labels = [a["label"] for a in answers]
    if sorted(labels) != sorted(result["label_names"]) or any(PLACEHOLDER.fullmatch(l) for l in labels):
        return f"pipeline labels {labels[:4]}... are not id2label's names"
    top = run(reloaded, dict(processor(images=[photo], return_tensors="pt"))).argmax(-1).item()
    result["pipeline"] = "ok"
    return "" if labels[0] == reloaded.config.id2label[top] else f"pipeline top label {labels[0]!r} is not the argmax"


def _state_dict_heuristic(folder: str, reloaded: nn.Module) -> str:
    """Whether ``find_head_in_state_dict`` finds the module head on the saved key names alone: the same
    layers, and the same effective rows (norms folded, branches combined)."""
    from inject.adapters import find_head, find_head_in_state_dict
    from inject.checkpoint import load_weights

    head = find_head(reloaded)
    try:
        tensors, _ = load_weights(f"{folder}/model.safetensors")
        found = find_head_in_state_dict({k: tuple(v.shape) for k, v in tensors.items()})
    except Exception as error:
        return f"error: {str(error)[:120]}"
    if found.prefixes != head.paths:
        return f"differs: {list(found.prefixes)}"
    weight, _ = found.rows(tensors)
    return "same" if torch.allclose(weight, head.weight, rtol=1e-5, atol=1e-6) else "same layers, other rows (a norm missed)"


def _checks(name: str, result: dict) -> str:
    model = build(name)
    head = _find(model, result)
    processor = configs.small_processor(model_type_of(name), model)
    images = photos()
    inputs = dict(processor(images=images, return_tensors="pt"))
    before = run(model, inputs)
    _features_check(model, head, inputs, before, result)
    extended, reason = _inject(model, head, inputs, before, result)
    if reason:
        return reason
    after = run(extended, inputs)
    reason = _trace_check(model, extended, inputs, after, result)
    if reason:
        return reason
    with tempfile.TemporaryDirectory(prefix="inject-coverage-") as folder:
        reloaded, reason = _round_trip(extended, inputs, after, folder, result)
        if reloaded is None or reason:
            return reason
        result["sd_heuristic"] = _state_dict_heuristic(folder, reloaded)
    return _pipeline_check(model, reloaded, processor, images[0], result)


def check_class(name: str) -> dict[str, Any]:
    """Run every check on one transformers class; ``status`` is ``pass``, ``fail`` or ``skip`` with a ``reason``."""
    start = time.perf_counter()
    result: dict[str, Any] = {"library": "transformers", "family": model_type_of(name), "status": "fail", "reason": ""}
    try:
        result["reason"] = _checks(name, result)
    except CannotCheck as error:
        return {**result, "status": "skip", "reason": str(error), "seconds": round(time.perf_counter() - start, 2)}
    except Exception as error:
        result["reason"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
    if not result["reason"] and result.get("max_abs_diff", 0.0) > 0:
        result["reason"] = GEMM_TAIL
    result["status"] = "pass" if result["reason"] in ("", GEMM_TAIL) else "fail"
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result
