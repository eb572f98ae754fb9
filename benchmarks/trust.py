"""Which new classes will work: the per-class estimate and the warnings of ``inject.trust`` against real photos.

Everything goes through ``inject.inject(model, names)`` with default options, as a user would call it, and
reads the record it writes (``record['classes']``, ``record['warnings']``); the photos only score it:

* B1: per fold seed, 5 folds hide 200 ImageNet classes from the head (a model with the other 800 rows) and
  re-inject them by name; one sample photo per class, so the score is the AUC of ``expected_top1`` for
  whether that photo is top-1 among the 200;
* CUB-50 and Flowers-102 (names the model already has are skipped, ``allow_existing``): Spearman between
  ``expected_top1`` and each class's measured top-1 among the new classes;
* the one-signal baseline beside it: each new row's cosine to its nearest seen row;
* set level: mean ``expected_top1`` against the measured mean top-1;
* warnings: precision = share of classes flagged near chance (``near_chance >= 0.5``) whose measured top-1
  is at most twice chance; recall = share of such classes that are flagged;
* cost: seconds of ``inject.trust.assess`` for 1000 seen + 50 new classes in a warm process.

    python -m benchmarks.trust [--backbones lite0 lite2] [--seeds 0 1 2] [--json OUT]
"""
from __future__ import annotations

import argparse
import copy
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

import inject
from benchmarks.backbones import BACKBONES, backbone
from benchmarks.cub import cub_features
from benchmarks.heldout import heldout_folds, imagenet_features
from benchmarks.names import flowers_features
from inject import assets

SHOWN = ("score", "baseline", "mean_estimate", "mean_measured", "precision", "recall", "flagged")


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for the boolean ``positive`` (ties count half)."""
    ranks = np.argsort(np.argsort(score, kind="stable"), kind="stable") + 1.0
    for value in np.unique(score):  # average ranks over ties
        ranks[score == value] = ranks[score == value].mean()
    count, hits = len(score), int(positive.sum())
    return float((ranks[positive].sum() - hits * (hits + 1) / 2) / max(hits * (count - hits), 1))


def seen_only(model: nn.Module, keep: torch.Tensor, names: list[str]) -> nn.Module:
    """A copy of ``model`` whose head holds only the rows ``keep`` (named ``names``)."""
    reduced = copy.deepcopy(model)
    old = reduced.get_classifier()
    head = nn.Linear(old.in_features, len(keep))
    head.weight.data, head.bias.data = old.weight.data[keep].clone(), old.bias.data[keep].clone()
    reduced.reset_classifier(len(keep))
    reduced.classifier = head
    reduced.pretrained_cfg = {**reduced.pretrained_cfg, "label_names": names}
    return reduced


def injected(model: nn.Module, names: list[str]) -> tuple[nn.Module, dict, float]:
    """``inject.inject(model, names)`` with default options (names the model has skipped): (model, record, s)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the class warnings are read from the record
        extended = inject.inject(model, names, allow_existing=True)
    return extended, extended.pretrained_cfg["inject"], time.perf_counter() - start


def measured(extended: nn.Module, record: dict, features: torch.Tensor, labels: torch.Tensor, names: list[str]):
    """Per injected class (record order): (top-1 among the new classes on its photos, baseline cosine of its
    row to the nearest seen row); ``labels`` index ``names``. Photos of skipped names drop out."""
    head = extended.get_classifier()
    injected_names = list(record["classes"])
    count = len(injected_names)
    weight, bias = head.weight.detach()[-count:], head.bias.detach()[-count:]
    position = {name: i for i, name in enumerate(injected_names)}
    target = torch.tensor([position.get(names[c], -1) for c in labels.tolist()])
    keep = target >= 0
    right = ((features[keep] @ weight.T + bias).argmax(1) == target[keep]).float()
    top1 = torch.stack([right[target[keep] == k].mean() for k in range(count)])
    seen = torch.nn.functional.normalize(head.weight.detach()[:-count], dim=1)
    baseline = (torch.nn.functional.normalize(weight, dim=1) @ seen.T).max(1).values
    return top1.numpy(), baseline.numpy()


def scores(record: dict, top1: np.ndarray, baseline: np.ndarray, binary: bool) -> dict:
    """SHOWN for one injection: AUC (``binary``) or Spearman of the estimate and of the baseline, means, warnings."""
    entries = list(record["classes"].values())
    estimate = np.array([e["expected_top1"] for e in entries])
    flagged = np.array([e["near_chance"] >= 0.5 for e in entries])
    near = top1 <= 2 * record["trust"]["chance"] + 1e-9
    rank = (lambda s: auc(s, top1 > 0.5)) if binary else (lambda s: float(spearmanr(s, top1)[0]))
    return {"score": rank(estimate), "baseline": rank(baseline), "mean_estimate": float(estimate.mean()),
            "mean_measured": float(top1.mean()), "precision": float(near[flagged].mean()) if flagged.any() else float("nan"),
            "recall": float(flagged[near].mean()) if near.any() else float("nan"), "flagged": float(flagged.sum()),
            "recognised_estimate": float(np.mean([e["expected_recognised"] for e in entries]))}


def b1(data: Path, architecture: str, seeds: list[int]) -> dict:
    """Per fold seed: the fold means of ``scores`` over 5 folds of 200 hidden ImageNet classes."""
    features, labels, _, _ = imagenet_features(data, architecture=architecture)
    model, names = backbone(architecture), list(assets.imagenet_class_names())
    per_seed = []
    for seed in seeds:
        folds = []
        for hidden in heldout_folds(1000, 5, 200, seed):
            keep = torch.ones(1000, dtype=torch.bool).index_fill_(0, hidden, False).nonzero()[:, 0]
            reduced = seen_only(model, keep, [names[i] for i in keep])
            extended, record, _ = injected(reduced, [names[i] for i in hidden])
            photos = torch.isin(labels, hidden)
            top1, baseline = measured(extended, record, features[photos], labels[photos], names)
            folds.append(scores(record, top1, baseline, binary=True))
        per_seed.append({k: float(np.nanmean([f[k] for f in folds])) for k in folds[0]})
        print(f"  {architecture} B1 seed {seed}: " + " ".join(f"{k} {per_seed[-1][k]:.3f}" for k in SHOWN), flush=True)
    return {"per_seed": per_seed}


def transfer(data: Path, architecture: str) -> dict:
    """CUB-50 and Flowers-102 by name through the API: ``scores`` and the cost of the assessment."""
    model, out = backbone(architecture), {}
    cub, cub_labels, species = cub_features(data, architecture)
    flowers, flower_labels, flower_names, _ = flowers_features(data, architecture)
    cub_names = [s.split(".", 1)[1].replace("_", " ") for s in species]
    for name, features, labels, classes in (("CUB-50", cub, cub_labels, cub_names),
                                            ("Flowers-102", flowers, flower_labels, flower_names)):
        extended, record, seconds = injected(model, classes)
        top1, baseline = measured(extended, record, features, labels, classes)
        out[name] = {**scores(record, top1, baseline, binary=False), "classes": len(record["classes"]),
                     "inject_s": seconds, "warnings": record["warnings"]}
        print(f"  {architecture} {name}: " + " ".join(f"{k} {out[name][k]:.3f}" for k in SHOWN), flush=True)
    return out


def cost(data: Path, architecture: str, repeats: int = 5) -> dict:
    """Seconds of ``inject.trust.assess`` (the whole added cost) for the 1000-class head and the 50 CUB names,
    warm process: median of ``repeats`` after one warm-up; its inputs built as ``inject()`` builds them."""
    from inject.knowledge.classes import known_class_descriptors
    from inject.mappers import create_mapper
    from inject.rows import head_rows, predict_new_rows
    from inject.semantics import resolve_encoder
    from inject.trust import assess

    weight, bias = backbone(architecture).get_classifier().weight.detach(), backbone(architecture).get_classifier().bias.detach()
    seen, rows = list(assets.imagenet_class_names()), head_rows(weight, bias)
    names = [s.split(".", 1)[1].replace("_", " ") for s in cub_features(data, architecture)[2]]
    known = known_class_descriptors(seen, names, rows, resolve_encoder(None))
    new = predict_new_rows(weight, bias, known.seen, known.new, create_mapper("conse", power=known.power))
    explained, times = known.explain(seen), []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        assess(seen, names, known.seen, known.new, rows, new.weight, new.bias, new.gamma, known.power, explained,
               known.seen_wnids, new.calibration.details.get("scale"))
        times.append(time.perf_counter() - start)
    return {"seconds": float(np.median(times[1:])), "threads": torch.get_num_threads(), "new": len(names), "seen": len(seen)}


def run(data: Path, backbones: list[str], seeds: list[int]) -> dict:
    """Every figure of the block, per backbone."""
    results = {}
    for name in backbones:
        architecture = BACKBONES[name]
        results[name] = {"B1": b1(data, architecture, seeds), **transfer(data, architecture), "cost": cost(data, architecture)}
        print(f"  {name} cost: {results[name]['cost']['seconds']:.3f} s", flush=True)
    return results


def _spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def tables(results: dict) -> str:
    """Markdown: one row per backbone and set (B1: mean ± std over fold seeds of the 5-fold means)."""
    lines = ["| backbone | set | estimate (AUC / Spearman) | baseline: nearest seen row | mean estimate | "
             "mean measured | warnings precision | warnings recall | flagged |", "|---" * 9 + "|"]
    for name, found in results.items():
        per_seed = found["B1"]["per_seed"]
        cells = [_spread([s[k] for s in per_seed]) for k in SHOWN]
        lines.append(f"| {name} | B1 ({len(per_seed)} seeds x 5 folds x 200) | " + " | ".join(cells) + " |")
        for key in ("CUB-50", "Flowers-102"):
            row = found[key]
            lines.append(f"| {name} | {key} ({row['classes']} injected) | " + " | ".join(f"{row[k]:.3f}" for k in SHOWN) + " |")
    lines += ["", "| backbone | seconds of the assessment, 1000 seen + 50 new, warm (median of 5) | torch threads |",
              "|---|---|---|"]
    lines += [f"| {name} | {found['cost']['seconds']:.3f} | {found['cost']['threads']} |" for name, found in results.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="B1 fold seeds (5 folds each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared cores)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = run(assets.data_dir(args.data), args.backbones, args.seeds)
    print(tables(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
