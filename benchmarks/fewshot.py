"""From zero to a few photos: rows from k photos per new class against imprinting and a linear probe.

CUB-200 species 001-050 and Flowers-102 on the real EfficientNet-Lite0: for k = 1, 2, 5, 10 photos per
new class (seeded draws; the rest of each class are the test photos), every method injects all the
species into the 1000-class head and is scored on

* ZSL: top-1 among the new classes on the test photos;
* S / U / H over 1000 + K classes at the method's offset, with the ImageNet sample photos as the seen
  side, and H oracle (best offset on these photos); S drop: seen accuracy lost against the original head.

Methods (all rows scaled to the seen rows' mean norm):

* text only (k = 0): the product's names-only rows and image-free offset;
* imprinting (Qi et al. 2018): a row is the normalised mean of its photos' unit features;
* probe: multinomial logistic regression on the photos' unit features (``inject.photos.blend.fit_rows`` with
  zero centre and a small penalty: the usual linear probe);
* blend: the product (``inject.photos``): text prior and photos (and their mirror images when
  ``inject.photos.apply.MIRRORED``), penalty chosen by leave-photos-out, offset on held-out photos;
* blend + mirror: the same, also fitted on each photo's mirror image.

Imprinting and the probe get their offset by the same photo calibration on their in-sample logits.

    python -m benchmarks.fewshot [--data DIR] [--shots 1 2 5 10] [--seeds 5] [--json OUT] [--plot PNG]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.heldout import imagenet_features
from benchmarks.names import flowers_features
from benchmarks.cub import cub_features
from benchmarks.timing import cli_wall_seconds
from inject import assets
from inject.calibration.photos import photo_gamma
from inject.images import run_on_photos
from inject.knowledge.classes import KnownClasses, known_class_descriptors
from inject.mappers import Mapper, create_mapper
from inject.metrics import gzsl, seen_unseen_curve, zsl_top1
from inject.photos.apply import MIRRORED, shape
from inject.photos.blend import fit_rows
from inject.photos.rows import head_geometry
from inject.rows import NewRows, head_rows, predict_new_rows
from inject.semantics import cache_dir, resolve_encoder

SHOTS = (1, 2, 5, 10)
METHODS = ("text only", "imprinting", "probe", "blend", "blend + mirror")
PROBE_PULL = 1e-3


def mirrored_features(data: Path, name: str, files: list[str]) -> torch.Tensor:
    """``[N, 2, D]`` head inputs of each photo and its mirror image (as ``inject(..., images=)`` computes them); cached."""
    cache = cache_dir() / f"features-tf_efficientnet_lite0-{name}-mirrored.pt"
    if cache.is_file():
        return torch.load(cache, weights_only=True)
    model = assets.load_demo_model()
    forward = lambda batch: model.forward_head(model.forward_features(batch), pre_logits=True)  # noqa: E731
    features, _, notes = run_on_photos(model, [data / name / f for f in files], forward, name, mirrored=True)
    assert not notes, notes
    torch.save(features, cache)
    return features


def photo_set(data: Path, which: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(features ``[N, 2, D]``, class ``[N]``, the K species names) of CUB-50 or Flowers-102."""
    folder = "cub_001_050_224" if which == "CUB-50" else "flowers102_224"
    with open(data / folder / "labels.csv") as f:
        files = [r["file"] for r in csv.DictReader(f)]
    if which == "CUB-50":
        _, labels, species = cub_features(data)
        names = [s.split(".", 1)[1].replace("_", " ") for s in species]
    else:
        _, labels, names, _ = flowers_features(data)
    return mirrored_features(data, folder, files), labels, names


def text_side(weight: torch.Tensor, bias: torch.Tensor, names: list[str]) -> tuple[NewRows, KnownClasses, Mapper]:
    """(names-only rows with the image-free offset, the descriptors, the mapper): what ``inject(model, names)`` uses."""
    rows = head_rows(weight, bias)
    known = known_class_descriptors(list(assets.imagenet_class_names()), names, rows, resolve_encoder(None))
    mapper = create_mapper("conse", power=known.power)
    return predict_new_rows(weight, bias, known.seen, known.new, mapper), known, mapper


def text_rows(weight: torch.Tensor, bias: torch.Tensor, names: list[str]) -> NewRows:
    """The product's names-only rows with the image-free offset (what ``inject(model, names)`` writes)."""
    return text_side(weight, bias, names)[0]


def draw(labels: torch.Tensor, shots: int | float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(support, test) photo indices: ``shots`` seeded photos per class (a float: that share of each class,
    rounded down), the rest for testing."""
    generator = torch.Generator().manual_seed(seed)
    support, test = [], []
    for c in labels.unique():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        take = shots if isinstance(shots, int) else int(shots * len(members))
        support.append(members[:take])
        test.append(members[take:])
    return torch.cat(support), torch.cat(test)


def _in_head(unit_rows: torch.Tensor, bias: torch.Tensor, weight: torch.Tensor, features: torch.Tensor, labels, unit_bias):
    """Rows on unit features -> head geometry (seen mean norm), offset on in-sample logits (imprinting, probe)."""
    new_weight, new_bias, _ = head_geometry(unit_rows, unit_bias, weight, float(features.norm(dim=1).mean()))
    chosen = photo_gamma(head_rows(weight, bias), new_weight, new_bias, features, features @ new_weight.T + new_bias, labels)
    return new_weight, new_bias + chosen.gamma


def method_rows(method, text: NewRows, weight, bias, support_features, support_labels, names) -> tuple[torch.Tensor, torch.Tensor]:
    """New rows ``[K, D]`` and biases (offset included) of one method from the support photos ``[n, 2, D]``."""
    photo = support_features[:, 0]
    if method == "text only":
        return text.weight, text.bias
    if method == "imprinting":
        sums = torch.zeros(len(names), photo.shape[1]).index_add_(0, support_labels, F.normalize(photo, dim=1))
        return _in_head(F.normalize(sums, dim=1), bias, weight, photo, support_labels, torch.zeros(len(names)))
    if method == "probe":
        fitted = fit_rows(photo, support_labels, torch.zeros(len(names), photo.shape[1]), PROBE_PULL, steps=100)
        return _in_head(fitted.weight, bias, weight, photo, support_labels, fitted.bias)
    mirrored = MIRRORED if method == "blend" else True  # "blend" is what inject(..., images=) does
    views = support_features if mirrored else support_features[:, :1]
    shaped = shape(text, views, support_labels, weight, bias, names, choose_offset=True)
    return shaped.rows.weight, shaped.rows.bias


def scores(seen: tuple, features: torch.Tensor, labels: torch.Tensor, new_weight: torch.Tensor, new_bias: torch.Tensor) -> dict:
    """ZSL, S / U / H, H oracle and S drop of new rows ``[K, D]`` / biases (offset included) on test photos
    ``features`` ``[N, D]`` of new classes ``labels`` ``[N]``; ``seen``: (features, labels, weight, bias, original
    accuracy) of the seen side."""
    seen_features, seen_labels, weight, bias, seen_base = seen
    logits = torch.cat([seen_features, features]) @ torch.cat([weight, new_weight]).T + torch.cat([bias, new_bias])
    y, unseen = torch.cat([seen_labels, labels + len(weight)]), torch.arange(len(weight), len(weight) + len(new_weight))
    at = gzsl(logits, y, unseen)
    return {"zsl": zsl_top1(logits, y, unseen), "S": at.seen, "U": at.unseen, "H": at.harmonic,
            "H_oracle": seen_unseen_curve(logits, y, unseen).best()[1], "S_drop": seen_base - at.seen}


def summary(runs: list[dict]) -> dict:
    """Per key of the runs' dicts: (mean, std) over the runs."""
    return {key: (float(np.mean([r[key] for r in runs])), float(np.std([r[key] for r in runs]))) for key in runs[0]}


def run_set(data: Path, which: str, shots: list[int], seeds: int) -> dict:
    """Per method and k: mean (and std over seeds) of ZSL, S, U, H, H oracle, S drop, seconds."""
    seen_features, seen_labels, weight, bias = imagenet_features(data)
    seen_base = float((seen_features @ weight.T + bias).argmax(1).eq(seen_labels).float().mean())
    features, labels, names = photo_set(data, which)
    text = text_rows(weight, bias, names)
    out: dict = {"classes": len(names), "seen_accuracy_original": seen_base}
    for k in shots:
        for method in METHODS:
            runs = []
            for seed in range(seeds):
                support, test = draw(labels, k, seed)
                start = time.perf_counter()
                new_weight, new_bias = method_rows(method, text, weight, bias, features[support], labels[support], names)
                seconds = time.perf_counter() - start
                seen = (seen_features, seen_labels, weight, bias, seen_base)
                runs.append({**scores(seen, features[test, 0], labels[test], new_weight, new_bias), "seconds": seconds})
            out[f"{method}|{k}"] = summary(runs)
            print(f"{which} k={k:2} {method:11} " + " ".join(f"{key} {v[0]:.3f}" for key, v in out[f'{method}|{k}'].items()),
                  flush=True)
    return out


def _photo_classes(data: Path, count: int) -> list[tuple[str, list[Path]]]:
    """The first ``count`` species of CUB-50 then Flowers-102 that the demo model does not have: (name, photos)."""
    from inject.names import same_class

    known = list(assets.imagenet_class_names())
    found: dict[str, list[Path]] = {}
    for folder, name_of in (("cub_001_050_224", lambda r: r["class_name"].split(".", 1)[1].replace("_", " ")),
                            ("flowers102_224", lambda r: r["class_name"])):
        with open(data / folder / "labels.csv") as f:
            for r in csv.DictReader(f):
                found.setdefault(name_of(r), []).append(data / folder / r["file"])
    fresh = [n for n in found if not any(same_class(n, k) for k in known)]
    return [(n, found[n]) for n in fresh[:count]]


def cli_seconds(data: Path, classes: int = 50, shots: int = 10, option: str = "--images") -> float:
    """Wall seconds of one cold ``inject-classes --images`` process: ``classes`` species x ``shots`` photos into
    the demo model file (empty embedding cache, default threads). ``option="--unlabelled-images"``: the same
    photos in one unsorted folder."""
    from inject.api import save_model

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        save_model(assets.load_demo_model(), work / "lite0.safetensors")
        chosen = _photo_classes(data, classes)
        for name, photos in chosen:
            folder = work / "photos" / name if option == "--images" else work / "photos"
            folder.mkdir(parents=True, exist_ok=True)
            for photo in photos[:shots]:
                os.symlink(photo, folder / photo.name)
        (work / "classes.txt").write_text("\n".join(name for name, _ in chosen) + "\n")
        env = {**os.environ, "INJECT_CACHE_DIR": str(work / "cache")}
        return cli_wall_seconds([work / "lite0.safetensors", "--classes", work / "classes.txt", option, work / "photos",
                                 "--quiet"], env)


def run(data: Path, shots=SHOTS, seeds: int = 5, sets=("CUB-50", "Flowers-102")) -> dict:
    """Every set, and the cold CLI time: what ``tables`` renders."""
    results = {which: run_set(data, which, list(shots), seeds) for which in sets}
    results["cli_seconds"] = cli_seconds(data)
    return results


def tables(results: dict) -> str:
    """Markdown: per set, ZSL per method and k, then S / U / H / H oracle / S drop / seconds (mean over seeds)."""
    lines = []
    for which, out in ((k, v) for k, v in results.items() if isinstance(v, dict)):
        shots = sorted({int(key.split("|")[1]) for key in out if "|" in key})
        lines += [f"### {which} ({out['classes']} classes; seen accuracy of the original head on the ImageNet "
                  f"samples {out['seen_accuracy_original']:.3f})", "",
                  "ZSL top-1 among the new classes (mean ± std over seeds):", "",
                  "| method | " + " | ".join(f"k = {k}" for k in shots) + " |", "|---" * (len(shots) + 1) + "|"]
        for method in METHODS:
            lines.append(f"| {method} | " + " | ".join("{:.3f} ± {:.3f}".format(*out[f'{method}|{k}']['zsl']) for k in shots) + " |")
        lines += ["", "| method | k | S | U | H | H oracle | S drop | seconds |", "|---|---|---|---|---|---|---|---|"]
        for k in shots:
            for method in METHODS:
                r = out[f"{method}|{k}"]
                lines.append(f"| {method} | {k} | " + " | ".join(f"{r[key][0]:.3f}" for key in
                                                                 ("S", "U", "H", "H_oracle", "S_drop", "seconds")) + " |")
        lines.append("")
    if "cli_seconds" in results:
        lines.append(f"Injecting 50 species with 10 photos each (the first 50 of CUB-50 and Flowers-102 that ImageNet-1K "
                     f"lacks), cold `inject-classes --images` process, empty embedding cache, all cores: "
                     f"{results['cli_seconds']:.1f} s wall.")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    """Top-1 among the new classes against k, one panel per set, one curve per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = {k: v for k, v in results.items() if isinstance(v, dict)}
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), squeeze=False)
    for ax, (which, out) in zip(axes[0], sets.items()):
        shots = sorted({int(key.split("|")[1]) for key in out if "|" in key})
        for method in METHODS:
            means = [out[f"{method}|{k}"]["zsl"][0] for k in shots]
            ax.plot(shots, means, "o-", label=method)
        ax.set(title=which, xlabel="photos per new class (k)", ylabel="top-1 among the new classes", xscale="log",
               xticks=shots, xticklabels=[str(k) for k in shots], ylim=(0, 1))
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--shots", nargs="+", type=int, default=list(SHOTS))
    parser.add_argument("--seeds", type=int, default=5, help="support draws per k")
    parser.add_argument("--sets", nargs="+", default=["CUB-50", "Flowers-102"], choices=["CUB-50", "Flowers-102"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None, help="write the top-1 vs k plot here (PNG)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data, start = assets.data_dir(args.data), time.perf_counter()
    results = run(data, args.shots, args.seeds, args.sets)
    print(f"\n({time.perf_counter() - start:.0f} s)\n\n{tables(results)}")
    if args.plot:
        plot(results, args.plot)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
