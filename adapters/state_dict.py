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
   must remain, else the error lists them and asks for ``--head-key``. Candidates under a top-level
   ``aux*`` key are auxiliary heads, not candidates; ``<parent>.<i>`` candidates with equal rows are
   branches of one head (CrossViT ``head.0``/``head.1``).

Once the main prefix is found, the rest of the head is collected (as ``adapters.modules`` does):
branches from the architecture's ``pretrained_cfg['classifier']`` tuple or a ``*_dist`` sibling
(``head_dist``, ``head_dist.linear``; transformers' ``classifier_distill``, ``distillation_classifier``,
``dist_head``); the ``bn`` of a ``NormLinear`` (``<p>.linear`` or ``<p>.l`` -> ``<p>.bn.*``, or transformers'
``<p>.batch_norm.*``, eps 1e-5 assumed), folded into :meth:`StateDictHead.rows`; and auxiliary heads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..registry import Registry
from . import _rows
from .errors import HeadError
from .transformers_heads import AVERAGED_BRANCHES

# transformers adds ``cls_classifier`` (DeiT with teacher) and ``score`` (ImageGPT); timm and torchvision use neither.
HEAD_NAMES = frozenset({"fc", "_fc", "classifier", "head", "last_linear", "logits", "cls_classifier", "score"})

Shapes = Mapping[str, Sequence[int]]
StateDictLocator = Callable[[Shapes, Mapping[str, str], "str | None"], "str | None"]
_LOCATORS: Registry[StateDictLocator] = Registry("head locator")


def register_state_dict_locator(name: str) -> Callable[[StateDictLocator], StateDictLocator]:
    """Register a state-dict head locator under ``name``; locators run in registration order."""
    return _LOCATORS.register(name)


@dataclass(frozen=True)
class StateDictHead:
    """Keys of the classifier tensors in a state dict.

    Attributes:
        prefix: key prefix of the layer, e.g. ``"classifier"``.
        weight_key: ``[C, D]`` (Linear) or ``[C, D, 1, 1]`` (1x1 conv) weight.
        bias_key: ``[C]`` bias, or ``None`` if the layer has none.
        norm_prefix: prefix of a ``BatchNorm1d`` in front of the layer (LeViT ``NormLinear``), or ``None``.
        branches: further layers whose logits the model averages with this one (distillation heads);
            :func:`extend_state_dict` writes the same new rows into each.
        aux: auxiliary (training-only) heads, extended with copies of their mean seen row.
    """

    prefix: str
    weight_key: str
    bias_key: str | None
    norm_prefix: str | None = None
    branches: tuple["StateDictHead", ...] = ()
    aux: tuple["StateDictHead", ...] = ()

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Prefixes of the main layer and its branches, in order."""
        return (self.prefix, *(b.prefix for b in self.branches))

    def _own_rows(self, state: Mapping[str, "torch.Tensor"]) -> "_rows.Rows":
        weight = state[self.weight_key].flatten(1)
        bias = state[self.bias_key] if self.bias_key else None
        if self.norm_prefix is None:
            return weight, bias
        return _rows.fold(weight, bias, *_norm_affine(state, self.norm_prefix))

    def rows(self, state: Mapping[str, "torch.Tensor"]) -> "_rows.Rows":
        """Effective (weight ``[C, D]``, bias ``[C]`` or ``None``) of the head in ``state``: the
        tensors themselves for a one-layer head; norm folded and branches combined otherwise."""
        return _rows.combine([self._own_rows(state), *(b._own_rows(state) for b in self.branches)])


# Names of the Linear inside a timm NormLinear (BatchNorm1d ``bn`` then Linear): LeViT ``linear``, RepViT/iFormer ``l``;
# and of its norm: timm's ``bn``, transformers' LevitClassificationLayer ``batch_norm``.
NORM_LINEAR_NAMES = frozenset({"linear", "l"})
NORM_NAMES = ("bn", "batch_norm")
NORM_EPS = 1e-5  # BatchNorm1d's default; state dicts do not record it


def _norm_affine(state: Mapping[str, "torch.Tensor"], prefix: str):
    return _rows.norm_affine(state.get(f"{prefix}.weight"), state.get(f"{prefix}.bias"),
                             state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"], NORM_EPS)


def _is_head_weight(shape: Sequence[int]) -> bool:
    return len(shape) == 2 or (len(shape) == 4 and tuple(shape[2:]) == (1, 1))


def _prefix_name(prefix: str) -> str:
    """Last non-numeric component, NormLinear's layer skipped: ``classifier.1`` -> ``classifier``, ``head.l`` -> ``head``."""
    parts = [p for p in prefix.split(".") if not p.isdigit()]
    if len(parts) > 1 and parts[-1] in NORM_LINEAR_NAMES:
        parts.pop()
    return parts[-1] if parts else ""


def _is_aux(prefix: str) -> bool:
    return prefix.split(".")[0].lower().startswith("aux")


def _architecture_prefixes(metadata: Mapping[str, str]) -> list[str]:
    """``pretrained_cfg['classifier']`` of the metadata's timm ``architecture``, as a list."""
    arch = metadata.get("architecture")
    if not arch:
        return []
    from timm.models import get_pretrained_cfg

    try:
        classifier = getattr(get_pretrained_cfg(arch), "classifier", None)
    except Exception:  # unknown or malformed architecture name: fall back to the key heuristic
        return []
    if isinstance(classifier, (tuple, list)):
        return [c for c in classifier if c]
    return [classifier] if classifier else []


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
    prefixes = _architecture_prefixes(metadata)
    return prefixes[0] if prefixes and f"{prefixes[0]}.weight" in shapes else None


@register_state_dict_locator("names")
def _head_names(shapes: Shapes, metadata: Mapping[str, str], head_key: str | None) -> str | None:
    prefixes = [
        key.removesuffix(".weight")
        for key, shape in shapes.items()
        if key.endswith(".weight") and _is_head_weight(shape) and _prefix_name(key.removesuffix(".weight")) in HEAD_NAMES
        and not _is_aux(key)
    ]
    in_widths = {shapes[f"{p}.weight"][1] for p in prefixes}
    final = [p for p in prefixes if shapes[f"{p}.weight"][0] not in in_widths]
    if "num_classes" in metadata:
        final = [p for p in final if str(shapes[f"{p}.weight"][0]) == metadata["num_classes"]]
    if len(final) > 1 and set(final) <= {final[0], *_numbered_siblings(shapes, final[0])}:
        return final[0]  # numbered branches of one head (CrossViT): the others are collected as branches
    if len(final) > 1:
        raise HeadError(
            f"several tensors look like the classifier ({', '.join(sorted(final))}); "
            "name the right one with --head-key"
        )
    return final[0] if final else None


def _numbered_siblings(shapes: Shapes, prefix: str) -> list[str]:
    """``<parent>.<j>`` head weights with as many rows as ``<parent>.<i>`` (CrossViT ``head.0``/``head.1``)."""
    parent, _, index = prefix.rpartition(".")
    if not index.isdigit():
        return []
    rows = shapes[f"{prefix}.weight"][0]
    return [key.removesuffix(".weight") for key, shape in shapes.items()
            if key.endswith(".weight") and key.removesuffix(".weight") != prefix and _is_head_weight(shape)
            and key.removesuffix(".weight").rpartition(".")[0] == parent
            and key.removesuffix(".weight").rpartition(".")[2].isdigit() and shape[0] == rows]


def _sibling_names(name: str) -> list[str]:
    """timm's ``<name>_dist``; transformers' ``<name>_distill`` and averaged pairs (``head`` -> ``dist_head``)."""
    return [f"{name}_dist", f"{name}_distill", *([AVERAGED_BRANCHES[name]] if name in AVERAGED_BRANCHES else [])]


def _dist_sibling(prefix: str) -> list[str]:
    """Distillation siblings by name: ``head`` -> ``head_dist``, ``head.linear`` -> ``head_dist.linear``,
    ``classifier.linear`` -> ``classifier_distill.linear``."""
    parts = prefix.split(".")
    return [".".join([*parts[:i], sibling, *parts[i + 1:]]) for i in range(len(parts)) for sibling in _sibling_names(parts[i])]


def _branch_prefixes(shapes: Shapes, metadata: Mapping[str, str], prefix: str) -> list[str]:
    """Other layers of the head whose logits the model averages with ``prefix``'s."""
    rows = shapes[f"{prefix}.weight"][0]
    named = _architecture_prefixes(metadata) + _dist_sibling(prefix) + _numbered_siblings(shapes, prefix)
    found: list[str] = []
    for other in named:
        shape = shapes.get(f"{other}.weight")
        if other != prefix and other not in found and shape is not None and _is_head_weight(shape) and shape[0] == rows:
            found.append(other)
    return found


def _aux_prefixes(shapes: Shapes, rows: int, taken: Sequence[str]) -> list[str]:
    """Last ``rows``-output layer under each top-level ``aux*`` key (GoogLeNet ``aux1.fc2``, ``AuxLogits.fc``)."""
    last: dict[str, str] = {}
    for key, shape in shapes.items():
        prefix = key.removesuffix(".weight")
        if key.endswith(".weight") and _is_aux(key) and _is_head_weight(shape) and shape[0] == rows:
            last[prefix.split(".")[0]] = prefix
    return [p for p in last.values() if p not in taken]


def _single_head(shapes: Shapes, prefix: str) -> StateDictHead:
    """The one layer at ``prefix``, checked, with the ``bn`` of its ``NormLinear`` if present."""
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
    parent, _, name = prefix.rpartition(".")
    norms = [f"{parent}.{n}" for n in NORM_NAMES] if parent and name in NORM_LINEAR_NAMES else []
    norm = next((n for n in norms if tuple(shapes.get(f"{n}.running_var", ())) == (shapes[weight_key][1],)), None)
    return StateDictHead(prefix, weight_key, bias_key, norm)


def find_head_in_state_dict(
    shapes: Shapes, metadata: Mapping[str, str] | None = None, head_key: str | None = None
) -> StateDictHead:
    """Locate the classifier among ``shapes`` (key -> tensor shape), with its branches and auxiliary heads.

    Raises:
        HeadError: no candidate, or several (the message lists them and suggests ``--head-key``).
    """
    metadata = metadata or {}
    for locate in _LOCATORS:
        prefix = locate(shapes, metadata, head_key)
        if prefix is None:
            continue
        # layers in name order, the first one "main", as adapters.modules orders them: the new rows are
        # split across layers of different widths in this order, so both paths must agree on it
        prefixes = sorted([prefix, *_branch_prefixes(shapes, metadata, prefix)])
        main, *branches = [_single_head(shapes, p) for p in prefixes]
        rows = shapes[main.weight_key][0]
        aux = tuple(_single_head(shapes, p) for p in _aux_prefixes(shapes, rows, prefixes))
        return StateDictHead(main.prefix, main.weight_key, main.bias_key, main.norm_prefix, tuple(branches), aux)
    raise HeadError(
        "no classifier found in the state dict: no 'architecture' metadata and no "
        f"[C, D] weight named {'/'.join(sorted(HEAD_NAMES))}; name it with --head-key"
    )


def _append(extended: dict, head: StateDictHead, weight: "torch.Tensor", bias: "torch.Tensor | None") -> None:
    """Append rows to the single layer ``head`` in ``extended`` (through its norm, if any)."""
    import torch

    if head.norm_prefix is not None:
        weight, bias = _rows.unfold(weight, bias, *_norm_affine(extended, head.norm_prefix), where=head.prefix)
    if (bias is None) != (head.bias_key is None):
        raise HeadError(f"head '{head.prefix}' {'has' if head.bias_key else 'has no'} bias; new_bias must match")
    old = extended[head.weight_key]
    extended[head.weight_key] = torch.cat([old, weight.reshape(-1, *old.shape[1:]).to(old)])
    if head.bias_key is not None:
        extended[head.bias_key] = torch.cat([extended[head.bias_key], bias.to(extended[head.bias_key])])


def extend_state_dict(
    state: Mapping[str, "torch.Tensor"],
    head: StateDictHead,
    new_weight: "torch.Tensor",
    new_bias: "torch.Tensor | None",
) -> dict[str, "torch.Tensor"]:
    """A copy of ``state`` whose head has ``K`` more rows (``new_weight`` ``[K, D]``, ``new_bias`` ``[K]``).

    ``new_weight`` is in the space of :meth:`StateDictHead.rows` (for a one-layer head, the layer's own).
    Seen rows and biases are copied bit-exactly; other tensors are shared, not copied. Branches get
    the same new rows, auxiliary heads ``K`` copies of their mean seen row (as ``adapters.extend_head``).
    """
    has_bias = head.rows(state)[1] is not None
    if (new_bias is None) == has_bias:
        raise HeadError(f"head '{head.prefix}' {'has' if has_bias else 'has no'} bias; new_bias must match")
    extended = dict(state)
    singles = [head, *head.branches]
    pieces = _rows.split(new_weight.flatten(1), [state[s.weight_key].flatten(1).shape[1] for s in singles])
    for single, piece in zip(singles, pieces):
        _append(extended, StateDictHead(single.prefix, single.weight_key, single.bias_key, single.norm_prefix), piece, new_bias)
    for aux in head.aux:
        bias = state[aux.bias_key] if aux.bias_key else None
        _append(extended, aux, *_rows.neutral_rows(state[aux.weight_key].flatten(1), bias, len(new_weight)))
    return extended
