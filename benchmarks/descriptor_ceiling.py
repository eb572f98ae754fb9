"""How far B1 top-1 is from its ceiling: each descriptor source, their combinations, and the true rows.

The setting of ``benchmarks/heldout.py`` (real EfficientNet-Lite0, 5 seeded folds each hiding 200
ImageNet classes, one real photo per class), top-1 among the hidden classes only (ZSL). Sources are
combined with ``inject.semantics.combine_descriptors``; "true rows" puts the hidden classes' own
trained rows back, the ceiling any mapper and descriptor could reach.

    python -m benchmarks.descriptor_ceiling [--data DIR] [--mappers conse crafted]
"""
from __future__ import annotations

import argparse
from itertools import combinations

import numpy as np
import torch

from benchmarks.heldout import descriptor_sources, heldout_folds, imagenet_features, with_rows
from inject import assets
from inject.mappers import create_mapper
from inject.metrics import zsl_top1
from inject.rows import predict_new_rows
from inject.semantics import combine_descriptors


def fold_top1(features, labels, weight, bias, hidden) -> float:
    """ZSL top-1 among the ``hidden`` classes of the head (``weight``, ``bias``) on ``features``."""
    return zsl_top1(features @ weight.T + bias, labels, hidden)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--mappers", nargs="+", default=["conse", "crafted"])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    data = assets.data_dir(args.data)
    features, labels, weight, bias = imagenet_features(data)
    splits = heldout_folds(weight.shape[0], args.folds)
    singles = descriptor_sources(data)
    sources = dict(singles)
    for size in (2, 3, 4):
        for names in combinations(singles, size):
            sources["+".join(names)] = combine_descriptors(*(singles[n] for n in names))

    true_rows = np.mean([fold_top1(features, labels, weight, bias, hidden) for hidden in splits])
    print(f"true rows (ceiling): ZSL top-1 {true_rows:.3f}")
    print(f"{'descriptors':58} " + " ".join(f"{m:>8}" for m in args.mappers))
    for name, descriptors in sources.items():
        scores = []
        for mapper in args.mappers:
            per_fold = []
            for hidden in splits:
                seen = torch.ones(weight.shape[0], dtype=torch.bool)
                seen[hidden] = False
                new = predict_new_rows(weight[seen], bias[seen], descriptors[seen], descriptors[hidden],
                                       create_mapper(mapper), calibration="none")
                per_fold.append(fold_top1(features, labels, *with_rows(weight, bias, hidden, new.weight, new.bias), hidden))
            scores.append(np.mean(per_fold))
        print(f"{name:58} " + " ".join(f"{s:8.3f}" for s in scores), flush=True)


if __name__ == "__main__":
    main()
