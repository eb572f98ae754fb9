"""Find the classification layer among the tensors of a bare state dict (e.g. a ``.safetensors`` file).

Works on shapes alone, so a file's head is found without reading its data. Locators run in order:

1. ``explicit``: the user's ``--head-key`` (``"head.fc"`` or ``"head.fc.weight"``).
2. ``architecture``: metadata ``architecture`` names a timm model; its ``pretrained_cfg['classifier']``
   is the head's key prefix.
3. ``names``: the documented key heuristic. Candidates are ``<prefix>.weight`` tensors of shape
   ``[C, D]`` or ``[C, D, 1, 1]`` whose prefix ends in a usual head name (``fc``, ``classifier``,
   ``head``, ``_fc``, ``last_linear``, ``logits``, possibly followed by a Sequential index).
   Candidates whose output width is the input width of another candidate are hidden layers of an
   MLP head and dropped; metadata ``num_classes``, when present, must match. Exactly one candidate
   must remain, else the error lists them and asks for ``--head-key``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .errors import HeadError

HEAD_NAMES = frozenset({"fc", "_fc", "classifier", "head", "last_linear", "logits"})

Shapes = Mapping[str, Sequence[int]]
StateDictLocator = Callable[[Shapes, Mapping[str, str], "str | None"], "str | None"]
_LOCATORS: dict[str, StateDictLocator] = {}


def register_state_dict_locator(name: str) -> Callable[[StateDictLocator], StateDictLocator]:
    """Register a state-dict head locator under ``name``; locators run in registration order."""

    def wrap(fn: StateDictLocator) -> StateDictLocator:
        _LOCATORS[name] = fn
        return fn

    return wrap


@dataclass(frozen=True)
class StateDictHead:
    """Keys of the classifier tensors in a state dict.

    Attributes:
        prefix: key prefix of the layer, e.g. ``"classifier"``.
        weight_key: ``[C, D]`` (Linear) or ``[C, D, 1, 1]`` (1x1 conv) weight.
        bias_key: ``[C]`` bias, or ``None`` if the layer has none.
    """

    prefix: str
    weight_key: str
    bias_key: str | None


def _is_head_weight(shape: Sequence[int]) -> bool:
    return len(shape) == 2 or (len(shape) == 4 and tuple(shape[2:]) == (1, 1))


def _prefix_name(prefix: str) -> str:
    """Last non-numeric component: ``classifier.1`` -> ``classifier``."""
    parts = [p for p in prefix.split(".") if not p.isdigit()]
    return parts[-1] if parts else ""


@register_state_dict_locator("explicit")
def _explicit_key(shapes: Shapes, metadata: Mapping[str, str], head_key: str | None) -> str | None:
    if head_key is None:
        return None
    prefix = head_key.removesuffix(".weight")
    if f"{prefix}.weight" not in shapes:
        raise HeadError(
            f"--head-key '{head_key}': no tensor '{prefix}.weight' in the state dict; "
            "give the key prefix of the classifier's weight, e.g. 'fc' for 'fc.weight'"
        )
    return prefix


@register_state_dict_locator("architecture")
def _timm_architecture(shapes: Shapes, metadata: Mapping[str, str], head_key: str | None) -> str | None:
    arch = metadata.get("architecture")
    if not arch:
        return None
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    classifier = getattr(cfg, "classifier", None)
    if isinstance(classifier, (tuple, list)):
        classifier = classifier[0]
    return classifier if classifier and f"{classifier}.weight" in shapes else None


@register_state_dict_locator("names")
def _head_names(shapes: Shapes, metadata: Mapping[str, str], head_key: str | None) -> str | None:
    prefixes = [
        key.removesuffix(".weight")
        for key, shape in shapes.items()
        if key.endswith(".weight") and _is_head_weight(shape) and _prefix_name(key.removesuffix(".weight")) in HEAD_NAMES
    ]
    in_widths = {shapes[f"{p}.weight"][1] for p in prefixes}
    final = [p for p in prefixes if shapes[f"{p}.weight"][0] not in in_widths]
    if "num_classes" in metadata:
        final = [p for p in final if str(shapes[f"{p}.weight"][0]) == metadata["num_classes"]]
    if len(final) > 1:
        raise HeadError(
            f"several tensors look like the classifier ({', '.join(sorted(final))}); "
            "name the right one with --head-key"
        )
    return final[0] if final else None


def find_head_in_state_dict(
    shapes: Shapes, metadata: Mapping[str, str] | None = None, head_key: str | None = None
) -> StateDictHead:
    """Locate the classifier among ``shapes`` (key -> tensor shape).

    Raises:
        HeadError: no candidate, or several (the message lists them and suggests ``--head-key``).
    """
    metadata = metadata or {}
    for locate in _LOCATORS.values():
        prefix = locate(shapes, metadata, head_key)
        if prefix is None:
            continue
        weight_key = f"{prefix}.weight"
        if not _is_head_weight(shapes[weight_key]):
            raise HeadError(
                f"'{weight_key}' has shape {list(shapes[weight_key])}, not [C, D] or [C, D, 1, 1]; "
                "name the classifier layer with --head-key"
            )
        bias_key = f"{prefix}.bias" if f"{prefix}.bias" in shapes else None
        rows = shapes[weight_key][0]
        if bias_key is not None and tuple(shapes[bias_key]) != (rows,):
            raise HeadError(
                f"'{bias_key}' has shape {list(shapes[bias_key])} but its weight has {rows} rows; "
                "the file is damaged, or --head-key names the wrong layer"
            )
        return StateDictHead(prefix, weight_key, bias_key)
    raise HeadError(
        "no classifier found in the state dict: no 'architecture' metadata and no "
        f"[C, D] weight named {'/'.join(sorted(HEAD_NAMES))}; name it with --head-key"
    )


def extend_state_dict(
    state: Mapping[str, "torch.Tensor"],
    head: StateDictHead,
    new_weight: "torch.Tensor",
    new_bias: "torch.Tensor | None",
) -> dict[str, "torch.Tensor"]:
    """A copy of ``state`` whose head has ``K`` more rows (``new_weight`` ``[K, D]``, ``new_bias`` ``[K]``).

    Seen rows and biases are copied bit-exactly; other tensors are shared, not copied.
    """
    import torch

    old = state[head.weight_key]
    if (new_bias is None) != (head.bias_key is None):
        raise HeadError(f"head '{head.prefix}' {'has' if head.bias_key else 'has no'} bias; new_bias must match")
    extended = dict(state)
    extended[head.weight_key] = torch.cat([old, new_weight.reshape(-1, *old.shape[1:]).to(old)])
    if head.bias_key is not None:
        extended[head.bias_key] = torch.cat([state[head.bias_key], new_bias.to(state[head.bias_key])])
    return extended
