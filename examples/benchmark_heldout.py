"""B1: hide ImageNet classes from a real head, re-inject them from descriptors, score on real photos.

EfficientNet-Lite0 (real ImageNet-1K weights) and the 1000 real photos of
``$INJECT_DATA/imagenet1k_samples_224`` (one per class). Five seeded folds over classes each hide 200
classes: their rows are dropped, predicted from descriptors by each mapper, calibrated and put back.
Reported per mapper and descriptor source, averaged over folds:

* ZSL top-1: among the 200 hidden classes only.
* GZSL S / U / H over all 1000 classes with the shipped calibration (``margin_gamma``).
* H at gamma = 0 (no offset) and the best H over a gamma sweep on the test photos ("oracle").

    python examples/benchmark_heldout.py [--data DIR] [--folds 5] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from inject import assets
from inject.mappers import create_mapper, list_mappers
from inject.metrics import gzsl, zsl_top1
from inject.rows import predict_new_rows
from inject.semantics import as_descriptors, cache_dir, encode_names

GAMMA_SWEEP = torch.linspace(-2, 8, 101).tolist()


def imagenet_features(data: Path, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pre-logits ``[1000, D]`` of the sample photos, their labels, and the demo head (W, b); cached."""
    from inject.features import pre_logits

    model = assets.load_demo_model()
    cache = cache_dir() / "features-tf_efficientnet_lite0-imagenet1k_samples_224.pt"
    if cache.is_file():
        features, labels = torch.load(cache, weights_only=True).values()
    else:
        rows = [line.split(",") for line in (data / "imagenet1k_samples_224" / "labels.csv").read_text().splitlines()[1:]]
        paths = [data / "imagenet1k_samples_224" / r[0] for r in rows]
        labels = torch.tensor([int(r[2]) for r in rows])
        features = pre_logits(model, paths, progress=progress)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"features": features, "labels": labels}, cache)
    return features, labels, model.classifier.weight.detach(), model.classifier.bias.detach()


def descriptor_sources(data: Path) -> dict[str, torch.Tensor]:
    """Descriptors ``[1000, E]`` in ImageNet order from each source."""
    embeddings = data / "class_text_embeddings"
    return {
        "conceptnet": as_descriptors(np.load(embeddings / "conceptnet" / "imgnet_cn_list.npy")),
        "wiki2vec": as_descriptors(np.load(embeddings / "wiki2vec" / "imgnet_wiki_list.npy")),
        "minilm-names": encode_names(list(assets.imagenet_class_names()), progress=True),
    }


def evaluate_fold(features, labels, weight, bias, descriptors, hidden, mapper_name):
    seen = torch.ones(weight.shape[0], dtype=torch.bool)
    seen[hidden] = False
    start = time.perf_counter()
    rows = predict_new_rows(weight[seen], bias[seen], descriptors[seen], descriptors[hidden], create_mapper(mapper_name))
    seconds = time.perf_counter() - start
    new_weight, new_bias = weight.clone(), bias.clone()
    new_weight[hidden], new_bias[hidden] = rows.weight, rows.bias
    logits = features @ new_weight.T + new_bias
    uncalibrated = logits.clone()
    uncalibrated[:, hidden] -= rows.gamma
    sweep = [gzsl(uncalibrated, labels, hidden, g).harmonic for g in GAMMA_SWEEP]
    shipped = gzsl(logits, labels, hidden)
    return {
        "zsl": zsl_top1(logits, labels, hidden), "S": shipped.seen, "U": shipped.unseen, "H": shipped.harmonic,
        "H_gamma0": gzsl(uncalibrated, labels, hidden).harmonic, "H_oracle": max(sweep),
        "gamma": rows.gamma, "gamma_oracle": GAMMA_SWEEP[int(np.argmax(sweep))], "fit_s": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=200, help="classes hidden per fold")
    parser.add_argument("--mappers", nargs="+", default=list_mappers())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    data = assets.data_dir(args.data)
    torch.manual_seed(args.seed)
    features, labels, weight, bias = imagenet_features(data)
    print(f"demo model top-1 on the {len(labels)} sample photos: "
          f"{float(((features @ weight.T + bias).argmax(1) == labels).float().mean()):.3f}")
    order = torch.randperm(weight.shape[0], generator=torch.Generator().manual_seed(args.seed))
    folds = [order[i * args.hidden : (i + 1) * args.hidden] for i in range(args.folds)]
    results = []
    header = f"{'mapper':10} {'descriptors':13} {'ZSL':>6} {'S':>6} {'U':>6} {'H':>6} {'H(g=0)':>7} {'H(orc)':>7} {'gamma':>6} {'g_orc':>6} {'fit s':>6}"
    print(header)
    for source, descriptors in descriptor_sources(data).items():
        for mapper_name in args.mappers:
            per_fold = [evaluate_fold(features, labels, weight, bias, descriptors, h, mapper_name) for h in folds]
            mean = {k: float(np.mean([f[k] for f in per_fold])) for k in per_fold[0]}
            results.append({"mapper": mapper_name, "descriptors": source, **mean})
            print(f"{mapper_name:10} {source:13} {mean['zsl']:6.3f} {mean['S']:6.3f} {mean['U']:6.3f} {mean['H']:6.3f} "
                  f"{mean['H_gamma0']:7.3f} {mean['H_oracle']:7.3f} {mean['gamma']:6.2f} {mean['gamma_oracle']:6.2f} {mean['fit_s']:6.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
