"""How confident the real head is on the photos of each benchmark: learned classes vs never-learned species.

For the 1000 ImageNet sample photos (B1's photos: classes the backbone was trained on) and the 2889
CUB photos (B2's: species it never learned), with the real EfficientNet-Lite0 and its 1000-class
head: the mean top softmax probability and the mean cosine between a photo's pre-logits and its
best-matching row. The image-free calibration assumes the first kind of photo (docs/design.md).

    python -m benchmarks.photo_confidence [--data DIR]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from benchmarks.cub import cub_features
from benchmarks.heldout import imagenet_features
from inject import assets


def confidence(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[float, float]:
    """(mean top softmax probability, mean best row cosine) of pre-logits ``features`` ``[N, D]`` under the head."""
    top_probability = (features @ weight.T + bias).softmax(1).max(1).values.mean()
    best_cosine = (F.normalize(features, dim=1) @ F.normalize(weight, dim=1).T).max(1).values.mean()
    return float(top_probability), float(best_cosine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    data = assets.data_dir(parser.parse_args().data)
    imagenet, _, weight, bias = imagenet_features(data)
    cub, _, _ = cub_features(data)
    print(f"{'photos':28} {'count':>6} {'top prob':>9} {'best cos':>9}")
    for name, features in [("ImageNet samples (learned)", imagenet), ("CUB 001-050 (never learned)", cub)]:
        probability, cosine = confidence(features, weight, bias)
        print(f"{name:28} {len(features):6d} {probability:9.3f} {cosine:9.3f}")


if __name__ == "__main__":
    main()
