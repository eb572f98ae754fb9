"""Heads of Hugging Face transformers image classifiers (``AutoModelForImageClassification``).

A transformers model is recognised by its ``config.model_type`` (duck typing: transformers is never
imported here). Every class of the installed mapping was read; what their forwards do:

- one layer on one pooled vector: ``classifier`` (ViT, BEiT, ConvNeXt, Swin, CLIP, SigLIP, ...; a
  ``Sequential(Flatten, Linear)`` for ResNet, RegNet, BiT), ``score`` (ImageGPT, no bias), ``fc``
  (HGNetV2, TextNet), ``head`` (PP-LCNet), the Perceiver decoder's ``final_layer`` (its one query's
  cross-attention output, ``[N, 1, D]``);
- a ``BatchNorm1d`` then a Linear (``LevitClassificationLayer``: ``batch_norm``, ``linear``), folded
  like timm's ``NormLinear``;
- two branches whose logits the forward averages, ``(a + b) / 2`` (:data:`AVERAGED_BRANCHES`): DeiT
  with teacher (``cls_classifier`` on the class token, ``distillation_classifier`` on the distillation
  token), LeViT with teacher (``classifier`` and ``classifier_distill``, both on the pooled features),
  SwiftFormer (``head`` and ``dist_head``, both on the pooled features);
- ``TimmWrapperForImageClassification``: a timm model at ``timm_model``, whose head the timm rules find;
- ShieldGemma2 cannot take new classes (:data:`NOT_EXTENSIBLE`).

After new rows, ``num_labels`` (model and head modules), ``output_num_channels`` (Perceiver's decoder)
and ``config.id2label`` / ``label2id`` / ``num_labels`` (a field of its own in ``PvtConfig``) follow the head: new rows get ``LABEL_i`` placeholders until
``inject.model_labels`` names them, so ``save_pretrained`` / ``from_pretrained`` round-trip.
"""
from __future__ import annotations

from torch import nn

from .errors import HeadError
from .rules import classifier_at, register_bookkeeper, register_branch_rule, register_locator, register_norm_wrapper, register_wrapper

# Where transformers image classifiers keep the layer that produces the logits, tried in order.
HEAD_PATHS = ("classifier", "cls_classifier", "score", "fc", "head", "perceiver.decoder.decoder.final_layer")
# Main head -> the sibling whose logits the forward averages with it (read in each model's forward).
AVERAGED_BRANCHES = {"cls_classifier": "distillation_classifier", "classifier": "classifier_distill", "head": "dist_head"}
# model_type -> why its outputs are not rows of a classifier layer.
NOT_EXTENSIBLE = {
    "shieldgemma2": "its two logits are a language model's scores for the 'Yes' and 'No' tokens of a policy "
                    "prompt, not rows of a classifier layer over image features",
}
# Class-count attributes of transformers modules: the model's and Perceiver's decoder's.
COUNTERS = ("num_labels", "output_num_channels")
TIMM_WRAPPER = "timm_wrapper"

register_norm_wrapper("LevitClassificationLayer", "batch_norm")


def model_type(model: nn.Module) -> str | None:
    """``config.model_type`` of a transformers model, ``None`` for anything else."""
    kind = getattr(getattr(model, "config", None), "model_type", None)
    return kind if isinstance(kind, str) and hasattr(model.config, "id2label") else None


@register_wrapper("transformers-timm")
def _timm_wrapper(model: nn.Module) -> str | None:
    """``TimmWrapperForImageClassification`` holds the whole timm classifier at ``timm_model``."""
    return "timm_model" if model_type(model) == TIMM_WRAPPER and hasattr(model, "timm_model") else None


@register_locator("transformers")
def _transformers_head(model: nn.Module) -> str | None:
    kind = model_type(model)
    if kind is None:
        return None
    if kind in NOT_EXTENSIBLE:
        raise HeadError(f"{type(model).__name__} cannot take new classes: {NOT_EXTENSIBLE[kind]}")
    for path in HEAD_PATHS:
        found = classifier_at(model, path)
        if found is not None:
            return found
    raise HeadError(
        f"no classification layer found in {type(model).__name__} (transformers model_type '{kind}'): expected "
        f"a Linear at one of {', '.join(HEAD_PATHS)}; load it with num_labels > 0, e.g. "
        "AutoModelForImageClassification.from_pretrained(path, num_labels=N)"
    )


@register_branch_rule("transformers")
def _averaged_sibling(model: nn.Module, main: str) -> list[str]:
    """The averaged sibling of the top-level module holding ``main`` (``cls_classifier`` -> ``distillation_classifier``)."""
    if model_type(model) is None:
        return []
    top, dot, rest = main.partition(".")
    sibling = AVERAGED_BRANCHES.get(top)
    found = classifier_at(model, sibling) if sibling else None
    return [found] if found else []


@register_bookkeeper("transformers")
def _num_labels(module: nn.Module, old: int, new: int) -> None:
    """``num_labels`` / ``output_num_channels`` equal to ``old``, and ``config.id2label`` of ``old`` entries."""
    for name in COUNTERS:
        if isinstance(getattr(module, name, None), int) and getattr(module, name) == old:
            setattr(module, name, new)
    config = getattr(module, "config", None) if model_type(module) else None
    if config is None or config.id2label is None or len(config.id2label) != old:
        return
    labels = [config.id2label[i] for i in sorted(config.id2label)] + [f"LABEL_{i}" for i in range(old, new)]
    config.id2label = dict(enumerate(labels))
    config.label2id = {name: i for i, name in enumerate(labels)} if len(set(labels)) == len(labels) else {}
    if config.num_labels != new:  # a config that keeps num_labels as a field of its own (PvtConfig)
        config.num_labels = new
