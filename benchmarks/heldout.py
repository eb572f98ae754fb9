"""B1: hide ImageNet classes from a real head, re-inject them from descriptors, score on real photos.

EfficientNet-Lite0 (real ImageNet-1K weights) and the 1000 real photos of
``$INJECT_DATA/imagenet1k_samples_224`` (one per class). Five seeded folds over classes each hide 200
classes: their rows are dropped, predicted from descriptors by each mapper, calibrated and put back.
Reported per mapper and descriptor source, averaged over folds:

* ZSL top-1: among the 200 hidden classes only.
* GZSL S / U / H over all 1000 classes with the shipped image-free offset (``--calibration virtual``);
  H with no offset, with the ZLA prior offset ``log(C / K)``, and the best H over every offset chosen on
  the test photos ("oracle", an upper bound); AUSUC; seconds to fit and to calibrate.

    python -m benchmarks.heldout [--data DIR] [--folds 5] [--mappers ...] [--json OUT.json]
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
from inject.metrics import gzsl, seen_unseen_curve, zsl_top1
from inject.calibration import Problem, calibrate
from inject.rows import NewRows, head_rows, predict_new_rows
from inject.semantics import as_descriptors, encode_names

COLUMNS = ("zsl", "S", "U", "H", "H_none", "H_prior", "H_oracle", "AUSUC", "gamma", "gamma_oracle", "fit_s", "cal_s")


def imagenet_features(
    data: Path, progress: bool = True, architecture: str = assets.DEMO_ARCHITECTURE
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pre-logits ``[1000, D]`` of the sample photos under ``architecture`` (cached, ``benchmarks.backbones``),
    their labels, and its head (W, b)."""
    from benchmarks.backbones import cached_features, head

    rows = [line.split(",") for line in (data / "imagenet1k_samples_224" / "labels.csv").read_text().splitlines()[1:]]
    paths = [data / "imagenet1k_samples_224" / r[0] for r in rows]
    labels = torch.tensor([int(r[2]) for r in rows])
    features = cached_features(architecture, "imagenet1k_samples_224", paths, progress)
    return (features, labels, *head(architecture))


def imagenet_descriptions() -> list[str]:
    """WordNet lemmas and gloss of every ImageNet-1K class ("crane: large long-necked wading bird ..."), offline from timm."""
    from timm.data import ImageNetInfo

    return list(ImageNetInfo().label_descriptions(detailed=True))


def descriptor_sources(data: Path) -> dict[str, torch.Tensor]:
    """Descriptors ``[1000, E]`` in ImageNet order from each source."""
    embeddings = data / "class_text_embeddings"
    return {
        "conceptnet": as_descriptors(np.load(embeddings / "conceptnet" / "imgnet_cn_list.npy")),
        "wiki2vec": as_descriptors(np.load(embeddings / "wiki2vec" / "imgnet_wiki_list.npy")),
        "minilm-names": encode_names(list(assets.imagenet_class_names()), progress=True),
        "minilm-descriptions": encode_names(imagenet_descriptions(), templates=("{}",), progress=True),
    }


def score(logits: torch.Tensor, labels: torch.Tensor, unseen: torch.Tensor, gammas: dict[str, float]) -> dict:
    """Every reported number for uncalibrated ``logits`` and the offsets ``gammas`` (``virtual``, ``prior``)."""
    curve = seen_unseen_curve(logits, labels, unseen)
    shipped = gzsl(logits, labels, unseen, gammas["virtual"])
    best_gamma, best_h = curve.best()
    return {
        "zsl": zsl_top1(logits, labels, unseen), "S": shipped.seen, "U": shipped.unseen, "H": shipped.harmonic,
        "H_none": gzsl(logits, labels, unseen).harmonic, "H_prior": gzsl(logits, labels, unseen, gammas["prior"]).harmonic,
        "H_oracle": best_h, "AUSUC": curve.area(), "gamma": gammas["virtual"], "gamma_oracle": best_gamma, "curve": curve,
    }


def injected_rows(weight, bias, seen_desc, new_desc, mapper_name) -> tuple[NewRows, dict[str, float], dict[str, float]]:
    """(uncalibrated new rows, offset per calibration method, seconds for the fit and the virtual calibration)."""
    mapper = create_mapper(mapper_name)
    start = time.perf_counter()
    rows = predict_new_rows(weight, bias, seen_desc, new_desc, mapper, calibration="none")
    fitted = time.perf_counter()
    problem = Problem(mapper, head_rows(weight, bias), seen_desc, rows.weight, rows.bias)
    gammas = {method: calibrate(method, problem).gamma for method in ("virtual", "prior")}
    seconds = {"fit_s": fitted - start, "cal_s": time.perf_counter() - fitted}  # prior's cost is nil
    return rows, gammas, seconds


def heldout_folds(count: int, folds: int = 5, hidden: int = 200, seed: int = 0) -> list[torch.Tensor]:
    """Class indices hidden in each fold: disjoint seeded draws of ``hidden`` of the ``count`` classes."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return [order[i * hidden : (i + 1) * hidden] for i in range(folds)]


def with_rows(weight, bias, hidden, new_weight, new_bias) -> tuple[torch.Tensor, torch.Tensor]:
    """The head (``weight`` ``[C, D]``, ``bias`` ``[C]``) with the ``hidden`` classes' rows replaced."""
    weight, bias = weight.clone(), bias.clone()
    weight[hidden], bias[hidden] = new_weight, new_bias
    return weight, bias


def evaluate_fold(features, labels, weight, bias, descriptors, hidden, mapper_name) -> dict:
    seen = torch.ones(weight.shape[0], dtype=torch.bool)
    seen[hidden] = False
    rows, gammas, seconds = injected_rows(weight[seen], bias[seen], descriptors[seen], descriptors[hidden], mapper_name)
    new_weight, new_bias = with_rows(weight, bias, hidden, rows.weight, rows.bias)
    return {**score(features @ new_weight.T + new_bias, labels, hidden, gammas), **seconds}


def run(data: Path, mappers: list[str], folds: int = 5, hidden: int = 200, seed: int = 0, sources: list[str] | None = None) -> list[dict]:
    """B1 rows (means over folds; ``curve`` from the first fold), printed as they come."""
    features, labels, weight, bias = imagenet_features(data)
    top1 = float(((features @ weight.T + bias).argmax(1) == labels).float().mean())
    print(f"B1: demo model top-1 on the {len(labels)} sample photos: {top1:.3f}")
    splits = heldout_folds(weight.shape[0], folds, hidden, seed)
    print(f"{'mapper':11} {'descriptors':20} " + " ".join(f"{c:>8}" for c in COLUMNS))
    results = []
    for source, descriptors in descriptor_sources(data).items():
        if sources and source not in sources:
            continue
        for mapper_name in mappers:
            per_fold = [evaluate_fold(features, labels, weight, bias, descriptors, h, mapper_name) for h in splits]
            mean = {k: float(np.mean([f[k] for f in per_fold])) for k in COLUMNS}
            results.append({"mapper": mapper_name, "descriptors": source, **mean, "curve": per_fold[0]["curve"]})
            print(f"{mapper_name:11} {source:20} " + " ".join(f"{mean[c]:8.3f}" for c in COLUMNS), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=200, help="classes hidden per fold")
    parser.add_argument("--mappers", nargs="+", default=list_mappers())
    parser.add_argument("--sources", nargs="+", default=None, help="descriptor sources (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results = run(assets.data_dir(args.data), args.mappers, args.folds, args.hidden, args.seed, args.sources)
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "curve"} for r in results], indent=2))


if __name__ == "__main__":
    main()
