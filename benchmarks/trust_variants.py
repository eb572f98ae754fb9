"""Which signals the per-class estimate should relate: every candidate relation on the same injections.

Runs ``benchmarks.trust``'s injections (B1 per fold seed, CUB-50, Flowers-102) once per backbone, keeping for
each the rehearsal's signals and outcomes and the new classes' signals, then fits each candidate relation
to the same rehearsal and scores it as ``benchmarks.trust`` scores the product (AUC on B1, Spearman on the
sets, the mean estimate), and how the sets' names resolved against how they did. The choice is made on B1; CUB and Flowers only show whether it held. A new class
that is a seen class's very synset is estimated here like any other, not by the product's special case, so
CUB's figures differ a little from ``benchmarks.trust``'s.

    python -m benchmarks.trust_variants [--backbones lite0 lite2] [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy.stats import spearmanr

import benchmarks.trust as trust
import inject.trust.estimate as estimate
from benchmarks.backbones import BACKBONES
from inject import assets
from inject.trust.relation import fit_relation, quadratic
from inject.trust.signals import SIGNALS

Shape = Callable[[torch.Tensor], torch.Tensor]
LINEAR: Shape = lambda x: x  # noqa: E731
VARIANTS: dict[str, tuple[tuple[str, ...], Shape]] = {
    "all five, linear (before)": (SIGNALS, LINEAR),
    "class signals, linear": (SIGNALS[:3], LINEAR),
    "nearest seen row alone (the baseline)": (("nearest_seen_row",), LINEAR),
    "without nearest description, linear": (SIGNALS[1:], LINEAR),
    "all five, pairwise products": (SIGNALS, quadratic),
    "without nearest description, pairwise products (product)": (SIGNALS[1:], quadratic),
}


def captured_injections(data: Path, architecture: str, seeds: list[int]) -> dict[str, list[dict]]:
    """Per B1 seed and per set: one dict per injection with the rehearsal and new signals and measured top-1."""
    log: list[dict] = []
    original_rehearse, original_signals, original_measured = estimate.rehearse, estimate.class_signals, trust.measured

    def rehearse(*args, **kwargs):
        found = original_rehearse(*args, **kwargs)
        log[-1].update(rehearsed=found.signals, outcome=found.top1)
        return found

    def class_signals(*args, **kwargs):
        log.append({"signals": original_signals(*args, **kwargs)})
        return log[-1]["signals"]

    def measured(extended, record, *args):
        top1, baseline = original_measured(extended, record, *args)
        log[-1].update(top1=top1, how=[entry["how"] for entry in record["classes"].values()],
                       estimate=np.array([entry["expected_top1"] for entry in record["classes"].values()]))
        return top1, baseline

    estimate.rehearse, estimate.class_signals, trust.measured = rehearse, class_signals, measured
    try:
        runs = {}
        for seed in seeds:
            trust.b1(data, architecture, [seed])
            runs[f"B1 seed {seed}"], log[:] = list(log), []
        trust.transfer(data, architecture)
        runs["CUB-50"], runs["Flowers-102"] = log[:1], log[1:2]
    finally:
        estimate.rehearse, estimate.class_signals, trust.measured = original_rehearse, original_signals, original_measured
    return runs


def expected(injection: dict, names: tuple[str, ...], shape: Shape) -> np.ndarray:
    """A variant's ``expected_top1`` for one injection (signals clamped to the rehearsed range, as the product)."""
    used = [SIGNALS.index(n) for n in names]
    rehearsed, requested = injection["rehearsed"][:, used], injection["signals"][:, used]
    requested = torch.maximum(torch.minimum(requested, rehearsed.max(0).values), rehearsed.min(0).values)
    return fit_relation(shape(rehearsed), injection["outcome"])(shape(requested)).numpy()


def score(runs: dict[str, list[dict]], names: tuple[str, ...], shape: Shape) -> dict[str, tuple[float, float, float]]:
    """Per run: (AUC for B1 fold means / Spearman for the sets, mean estimate, mean measured top-1)."""
    out = {}
    for run, injections in runs.items():
        estimates = [expected(i, names, shape) for i in injections]
        rank = [trust.auc(e, i["top1"] > 0.5) if run.startswith("B1") else float(spearmanr(e, i["top1"])[0])
                for e, i in zip(estimates, injections)]
        out[run] = (float(np.mean(rank)), float(np.mean([e.mean() for e in estimates])),
                    float(np.mean([i["top1"].mean() for i in injections])))
    return out


def by_resolution(injection: dict) -> str:
    """How the names resolved against how they did: per kind, classes, mean measured top-1, mean estimate."""
    kinds = sorted(set(injection["how"]))
    cells = []
    for kind in kinds:
        mine = np.array([how == kind for how in injection["how"]])
        cells.append(f"{kind} {mine.sum()}: {injection['top1'][mine].mean():.3f} / {injection['estimate'][mine].mean():.3f}")
    return "; ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    data = assets.data_dir(args.data)
    for backbone in args.backbones:
        runs = captured_injections(data, BACKBONES[backbone], args.seeds)
        print(f"\n{backbone}: AUC (B1) / Spearman (sets); in brackets, mean estimate / mean measured top-1\n")
        print("| relation | " + " | ".join(runs) + " |\n" + "|---" * (len(runs) + 1) + "|")
        for label, (names, shape) in VARIANTS.items():
            found = score(runs, names, shape)
            cells = [f"{v[0]:.3f} ({v[1]:.3f} / {v[2]:.3f})" for v in found.values()]
            print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
        print("\nBy how each name resolved (classes: mean measured top-1 / mean product estimate):\n")
        for run in ("CUB-50", "Flowers-102"):
            print(f"- {run}: {by_resolution(runs[run][0])}")


if __name__ == "__main__":
    main()
