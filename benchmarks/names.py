"""Names only: inject classes from their names plus offline WordNet knowledge, and score on real photos.

Descriptors come from ``inject.knowledge.describe_classes`` (sources: MiniLM on the name templates, on
``"lemmas: gloss"`` of the resolved synset, and WordNet ancestor bags), combined with fixed weights
(the ablation) or with the weights and ``conse`` neighbour power the product chooses
(``inject.knowledge.weights.rehearse``: leave-classes-out on the seen rows only, never on photos). Nothing
but the class names goes in. Three sets, all with the real EfficientNet-Lite0 and the shipped
image-free offset:

* B1: held-out ImageNet classes, 5 folds x 200 hidden classes per fold seed (``--seeds``), mean ± std over
  seeds of the fold means; ZSL among the 200, S / U / H over 1000, H oracle.
* B2: CUB-200 species 001-050 by name (ZSL; H over 1000 + 50 with the ImageNet photos as seen); the
  species ImageNet-1K has in some form (benchmarks.cub.OVERLAP_IDS) reported apart.
* B2b: Flowers-102 by name (ZSL among 102; H over 1000 + 102); classes ImageNet-1K has or nearly has
  (``imagenet_overlap.csv``) reported apart.

    python -m benchmarks.names [--data DIR] [--seeds 0 1 2] [--variants ...] [--backbone lite0|lite2] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.backbones import BACKBONES, cached_features
from benchmarks.cub import OVERLAP_IDS, cub_features
from benchmarks.heldout import heldout_folds, imagenet_features, score, with_rows
from inject import assets
from inject.knowledge.describe import DEFAULT_SOURCES, SOURCES, Described, combine, describe_classes
from inject.knowledge.weights import POWERS, rehearse
from inject.mappers import create_mapper
from inject.metrics import zsl_top1
from inject.calibration import Problem, calibrate
from inject.rows import head_rows, predict_new_rows

SHOWN = ("zsl", "S", "U", "H", "H_oracle")
DEFAULT = "default: rehearsed weights and power"  # what inject() does with names


def fixed(weights: dict[str, float], power: float = 1.0):
    """A variant with fixed source weights and neighbour power."""
    return lambda described, rows: (weights, power)


def rehearsed(powers=POWERS):
    """A variant whose weights (and power, among ``powers``) the seen-only rehearsal chooses, as the product does."""
    def choose(described: Described, rows: torch.Tensor) -> tuple[dict[str, float], float]:
        chosen = rehearse(described, rows, powers=powers)
        return chosen.weights, chosen.power

    return choose


# variant -> (described, seen rows [C, R]) -> (source weights, conse neighbour power)
VARIANTS = {
    "name": fixed({"name": 1.0}),
    "gloss": fixed({"gloss": 1.0}),
    "name+gloss": fixed({"name": 0.5, "gloss": 0.5}),
    "name+gloss+hierarchy": fixed({"name": 1 / 3, "gloss": 1 / 3, "hierarchy": 1 / 3}),
    "rehearsed weights, power 1": rehearsed(powers=(1.0,)),
    DEFAULT: rehearsed(),
}


def weights_for(variant: str, described: Described, weight: torch.Tensor, bias: torch.Tensor, mapper: str):
    """(source weights, mapper factory, setting label) of ``variant`` for these seen rows (rehearsed ones
    leave-classes-out on the seen side only)."""
    weights, power = VARIANTS[variant](described, head_rows(weight, bias))
    options = {"power": power} if mapper == "conse" else {}
    return weights, (lambda: create_mapper(mapper, **options)), f"p={power:g}"


def new_rows(weight, bias, described: Described, weights: dict, factory):
    """(uncalibrated new rows, offsets per calibration) from ``combine(described, weights)`` (as ``benchmarks.heldout``)."""
    seen_desc, new_desc = combine(described, weights)
    mapper = factory()
    rows = predict_new_rows(weight, bias, seen_desc, new_desc, mapper, calibration="none")
    problem = Problem(mapper, head_rows(weight, bias), seen_desc, rows.weight, rows.bias)
    return rows, {method: calibrate(method, problem).gamma for method in ("virtual", "prior")}


def b1(data: Path, seeds: list[int], variants: list[str], mapper: str, architecture: str = assets.DEMO_ARCHITECTURE) -> dict:
    """B1 per variant: per-seed fold means of SHOWN and the weights chosen per fold."""
    features, labels, weight, bias = imagenet_features(data, architecture=architecture)
    names = list(assets.imagenet_class_names())
    out = {v: {"per_seed": [], "weights": [], "settings": []} for v in variants}
    for seed in seeds:
        per_fold = {v: [] for v in variants}
        for hidden in heldout_folds(weight.shape[0], 5, 200, seed):
            seen = torch.ones(weight.shape[0], dtype=torch.bool)
            seen[hidden] = False
            described = describe_classes([n for n, s in zip(names, seen) if s], [names[i] for i in hidden], sources=DEFAULT_SOURCES)
            for v in variants:
                w, factory, label = weights_for(v, described, weight[seen], bias[seen], mapper)
                rows, gammas = new_rows(weight[seen], bias[seen], described, w, factory)
                new_weight, new_bias = with_rows(weight, bias, hidden, rows.weight, rows.bias)
                per_fold[v].append(score(features @ new_weight.T + new_bias, labels, hidden, gammas))
                out[v]["weights"].append(w)
                out[v]["settings"].append(label)
        for v in variants:
            out[v]["per_seed"].append({k: float(np.mean([f[k] for f in per_fold[v]])) for k in SHOWN})
            print(f"B1 seed {seed} {v:22} " + " ".join(f"{k} {out[v]['per_seed'][-1][k]:.3f}" for k in SHOWN), flush=True)
    return out


def flowers_features(
    data: Path, architecture: str = assets.DEMO_ARCHITECTURE
) -> tuple[torch.Tensor, torch.Tensor, list[str], torch.Tensor]:
    """Pre-logits ``[N, D]`` of the Flowers-102 photos under ``architecture``, class ids ``[N]``, the 102 names, and
    ``[102]`` bool: ImageNet-1K has the class or a near/confusable one (``imagenet_overlap.csv``); features cached."""
    folder = data / "flowers102_224"
    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    with open(folder / "imagenet_overlap.csv") as f:
        overlap_rows = sorted(csv.DictReader(f), key=lambda r: int(r["class_id"]))
    names = [r["class_name"] for r in overlap_rows]
    overlap = torch.tensor([r["in_imagenet1k"] != "no" for r in overlap_rows])
    features = cached_features(architecture, folder.name, [folder / r["file"] for r in rows])
    return features, torch.tensor([int(r["class_id"]) for r in rows]), names, overlap


def transfer(data, new_feats, new_labels, new_names, overlap, variants, mapper, tag,
             architecture: str = assets.DEMO_ARCHITECTURE) -> dict:
    """B2 / B2b per variant: ZSL, S / U / H over 1000 + K, ZSL split by ``overlap`` ``[K]`` bool, weights."""
    seen_features, seen_labels, weight, bias = imagenet_features(data, architecture=architecture)
    features, labels = torch.cat([seen_features, new_feats]), torch.cat([seen_labels, new_labels + 1000])
    unseen = torch.arange(1000, 1000 + len(new_names))
    is_new = labels >= 1000
    is_overlap = is_new & overlap[(labels - 1000).clamp_min(0)]
    described = describe_classes(list(assets.imagenet_class_names()), new_names, sources=DEFAULT_SOURCES)
    out = {"resolved": sum(r.wnid is not None for r in described.new_resolutions), "classes": len(new_names)}
    for v in variants:
        w, factory, label = weights_for(v, described, weight, bias, mapper)
        rows, gammas = new_rows(weight, bias, described, w, factory)
        logits = features @ torch.cat([weight, rows.weight]).T + torch.cat([bias, rows.bias])
        result = {k: score(logits, labels, unseen, gammas)[k] for k in SHOWN}
        result["zsl_novel"] = zsl_top1(logits[is_new & ~is_overlap], labels[is_new & ~is_overlap], unseen)
        result["zsl_overlap"] = zsl_top1(logits[is_overlap], labels[is_overlap], unseen)
        out[v] = {**result, "weights": w, "setting": label}
        print(f"{tag} {v:22} " + " ".join(f"{k} {result[k]:.3f}" for k in (*SHOWN, "zsl_novel", "zsl_overlap"))
              + f" {label}", flush=True)
    return out


def cub(data: Path, variants: list[str], mapper: str, architecture: str = assets.DEMO_ARCHITECTURE) -> dict:
    feats, labels, species = cub_features(data, architecture)
    overlap = torch.tensor([int(s.split(".")[0]) in OVERLAP_IDS for s in species])
    names = [s.split(".", 1)[1].replace("_", " ") for s in species]
    return transfer(data, feats, labels, names, overlap, variants, mapper, "B2 ", architecture)


def flowers(data: Path, variants: list[str], mapper: str, architecture: str = assets.DEMO_ARCHITECTURE) -> dict:
    feats, labels, names, overlap = flowers_features(data, architecture)
    return transfer(data, feats, labels, names, overlap, variants, mapper, "B2b", architecture)


def timing(mapper: str) -> dict[str, float]:
    """Seconds to resolve, encode (warm cache as a product run repeats) and fit weights: 1000 seen + 5 new names."""
    model = assets.load_demo_model()
    new = ["Laysan albatross", "okapi", "bird of paradise", "Crested Auklet", "snow leopard cub"]
    start = time.perf_counter()
    described = describe_classes(list(assets.imagenet_class_names()), new)
    seconds = {f"describe: {k}": v for k, v in described.seconds.items()}
    seconds["describe total"] = time.perf_counter() - start
    start = time.perf_counter()
    rehearse(described, head_rows(model.classifier.weight.detach(), model.classifier.bias.detach()))
    seconds["rehearse (6 weightings x 3 powers x 5 splits)"] = time.perf_counter() - start
    return seconds


def _mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def _weights_text(weights: list[dict]) -> str:
    """Mean of the chosen weights over runs, per source."""
    keys = sorted({k for w in weights for k in w}, key=SOURCES.index)
    return ", ".join(f"{k} {np.mean([w.get(k, 0.0) for w in weights]):.2f}" for k in keys)


def _settings_text(labels: list[str]) -> str:
    """How often each mapper setting was chosen ("T=0.05 x9, T=0.1 x6")."""
    counts = {label: labels.count(label) for label in dict.fromkeys(labels) if label}
    return ", ".join(f"{label} x{n}" for label, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def tables(results: dict) -> str:
    """Markdown tables of every result in ``results``."""
    lines = ["### B1: held-out ImageNet classes (mean ± std over fold seeds; each seed a mean of 5 folds)", "",
             "| variant | " + " | ".join(SHOWN) + " | zsl / H per seed | weights (mean over folds) | mapper settings |",
             "|---" * (len(SHOWN) + 4) + "|"]
    for v, r in results.get("B1", {}).items():
        cells = [_mean_std([s[k] for s in r["per_seed"]]) for k in SHOWN]
        per_seed = " ".join(f"{s['zsl']:.3f}/{s['H']:.3f}" for s in r["per_seed"])
        lines.append(f"| {v} | " + " | ".join(cells) + f" | {per_seed} | {_weights_text(r['weights'])} | "
                     f"{_settings_text(r.get('settings', []))} |")
    for key, title in (("B2", "B2: CUB-200 species 001-050 by name"), ("B2b", "B2b: Flowers-102 by name")):
        if key not in results:
            continue
        r = results[key]
        cols = (*SHOWN, "zsl_novel", "zsl_overlap")
        lines += ["", f"### {title} ({r['resolved']}/{r['classes']} names resolved to WordNet)", "",
                  "| variant | " + " | ".join(cols) + " | weights |", "|---" * (len(cols) + 2) + "|"]
        for v, row in r.items():
            if isinstance(row, dict):
                lines.append(f"| {v} | " + " | ".join(f"{row[k]:.3f}" for k in cols)
                             + f" | {_weights_text([row['weights']])} {row.get('setting', '')} |")
    if "timing" in results:
        lines += ["", "### Seconds, 1000 seen + 5 new names", "", "| step | s |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in results["timing"].items()]
    return "\n".join(lines)


def run(data: Path, seeds: list[int], variants: list[str], sets: tuple[str, ...] = ("B1", "B2", "B2b"),
        mapper: str = "conse", architecture: str = assets.DEMO_ARCHITECTURE) -> dict:
    """Every set in ``sets`` for every variant on the backbone ``architecture``, and the timings (``tables``)."""
    results: dict = {"mapper": mapper, "architecture": architecture}
    if "B1" in sets:
        results["B1"] = b1(data, seeds, variants, mapper, architecture)
    if "B2" in sets:
        results["B2"] = cub(data, variants, mapper, architecture)
    if "B2b" in sets:
        results["B2b"] = flowers(data, variants, mapper, architecture)
    results["timing"] = timing(mapper)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="B1 fold seeds")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--sets", nargs="+", default=["B1", "B2", "B2b"], choices=["B1", "B2", "B2b"])
    parser.add_argument("--mapper", default="conse")
    parser.add_argument("--backbone", default="lite0", choices=list(BACKBONES), help="the real ImageNet model")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared cores)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    results = run(assets.data_dir(args.data), args.seeds, args.variants, args.sets, args.mapper, BACKBONES[args.backbone])
    print(f"\n(mapper {args.mapper}, backbone {args.backbone}; {time.perf_counter() - start:.0f} s)\n")
    print(tables(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
