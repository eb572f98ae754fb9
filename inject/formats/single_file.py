"""One weights file (safetensors or a ``.pth`` state dict) with timm-style metadata, as the CLI reads and writes it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ..adapters import HeadError, StateDictHead, find_head_in_state_dict
from ..checkpoint import label_names_from_metadata, load_weights
from ..errors import InjectError
from ..rows import check_finite_head
from ..targets import StateDictTarget


def load_head(model_path: Path, head_key: str | None = None) -> tuple[dict[str, Any], dict[str, str], StateDictHead]:
    """(tensors, metadata, head) of the model file; the head is found, and refused if NaN or infinite."""
    tensors, metadata = load_weights(model_path)
    try:
        head = find_head_in_state_dict({k: v.shape for k, v in tensors.items()}, metadata, head_key)
    except HeadError as error:
        raise HeadError(f"model file '{model_path}': {error}") from error
    bias = tensors[head.bias_key] if head.bias_key else None
    check_finite_head(tensors[head.weight_key], bias, f"head '{head.prefix}' of model file '{model_path}'")
    return tensors, metadata, head


def single_file_model(model_path: Path) -> nn.Module:
    """The timm model a weights file's ``architecture`` metadata names, holding its tensors, labels and record.

    Raises:
        InjectError: no ``architecture`` metadata, or a file the architecture cannot hold.
    """
    import json

    tensors, metadata, head = load_head(model_path)
    target = StateDictTarget(tensors, metadata, head, model_path)
    target.check_runnable("running the model")
    try:
        model = target.network(tensors)
    except (RuntimeError, TypeError, ValueError) as error:
        raise InjectError(f"model file '{model_path}': timm cannot build '{metadata['architecture']}' from it "
                          f"({str(error).strip().splitlines()[0]})") from error
    labels = label_names_from_metadata(metadata, f"model file '{model_path}'")
    extra = {"label_names": labels} if labels is not None else {}
    if "inject" in metadata:
        extra["inject"] = json.loads(metadata["inject"])
    model.pretrained_cfg = {**model.pretrained_cfg, **extra}
    return model.eval()
