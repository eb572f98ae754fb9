"""Speed, measured side by side in one run on this machine (2 CPU cores in CI and development).

* fit + predict seconds of every mapper on the real 1000-class EfficientNet-Lite0 head, injecting
  200 classes from ConceptNet vectors (one fit; ``inject`` fits twice when it chooses gamma itself);
* the CLI (default options: WordNet knowledge on) injecting 5 CUB species names, and 1000 ImageNet-21K
  class names (the first 1000 "2-hops" classes of GCNZ/DGP that ImageNet-1K lacks), into the
  1000-class head file, as a cold process, first with an empty embedding cache, then warm;
* inference time of the injected 2000-class model against the original (batch of 32 at 224 px).

    python -m benchmarks.speed [--data DIR] [--mappers ...] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.timing import cli_wall_seconds
from inject import assets, inject, save_model
from inject.mappers import DEFAULT_MAPPER, create_mapper, list_mappers
from inject.calibration import Problem, calibrate
from inject.rows import head_rows, predict_new_rows
from inject.semantics import as_descriptors, encode_names


def mapper_seconds(data: Path, mappers: list[str]) -> dict[str, float]:
    """fit + predict seconds per mapper, 800 seen -> 200 new rows of the real head."""
    model = assets.load_demo_model()
    rows = head_rows(model.classifier.weight.detach(), model.classifier.bias.detach())
    descriptors = as_descriptors(np.load(data / "class_text_embeddings" / "conceptnet" / "imgnet_cn_list.npy"))
    seconds = {}
    for name in mappers:
        start = time.perf_counter()
        create_mapper(name).fit(descriptors[:800], rows[:800], descriptors[800:]).predict(descriptors[800:])
        seconds[name] = time.perf_counter() - start
        print(f"  {name:11} fit+predict {seconds[name]:7.2f} s", flush=True)
    return seconds


def imagenet21k_names(data: Path, count: int = 1000) -> list[str]:
    """First lemma of the first ``count`` '2-hops' ImageNet-21K classes, skipping names ImageNet-1K has."""
    folder = data / "imagenet21k_zsl_splits"
    lemmas = dict(line.split("\t", 1) for line in (folder / "words.txt").read_text().splitlines())
    known = {n.casefold() for n in assets.imagenet_class_names()}
    names: list[str] = []
    for wnid in (folder / "2-hops.txt").read_text().split():
        name = lemmas[wnid].split(",")[0].strip()
        if name.casefold() not in known and name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    return names[:count]


FIRST_RUN_NAMES = ["Groove billed Ani", "Crested Auklet", "Brewer Blackbird", "Painted Bunting", "Gray Catbird"]


def cli_seconds(data: Path, workdir: Path) -> dict[str, float]:
    """Wall seconds of cold ``inject-classes`` processes (default options) into the demo model file.

    5 names and 1000 names, each first with an empty embedding cache (a first run), then warm.
    """
    model_path = workdir / "lite0.safetensors"
    save_model(assets.load_demo_model(), model_path)
    seconds = {}
    for label, names in (("5 names", FIRST_RUN_NAMES), ("1000 names", imagenet21k_names(data))):
        classes = workdir / f"{len(names)}.txt"
        classes.write_text("\n".join(names) + "\n")
        env = {**os.environ, "INJECT_CACHE_DIR": str(workdir / f"cache-{len(names)}")}
        for cache in ("empty cache", "warm cache"):
            seconds[f"{label}, {cache}"] = cli_wall_seconds(
                [model_path, "--classes", classes, "-o", workdir / "out.safetensors", "--quiet"], env)
            print(f"  CLI, {label}, {cache}: {seconds[f'{label}, {cache}']:6.1f} s wall", flush=True)
    return seconds


@torch.inference_mode()
def inference_seconds(model: torch.nn.Module, repeats: int = 5) -> float:
    x = torch.randn(32, 3, 224, 224)
    model(x)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def calibration_seconds(data: Path, mapper: str = DEFAULT_MAPPER) -> float:
    """Seconds of ``--calibration virtual`` (its rehearsal fit included) for 1000 new names on the 1000-class head."""
    model = assets.load_demo_model()
    weight, bias = model.classifier.weight.detach(), model.classifier.bias.detach()
    descriptors = encode_names(list(assets.imagenet_class_names()) + imagenet21k_names(data), progress=True)
    rows = predict_new_rows(weight, bias, descriptors[:1000], descriptors[1000:], create_mapper(mapper), calibration="none")
    problem = Problem(create_mapper(mapper), head_rows(weight, bias), descriptors[:1000], rows.weight, rows.bias)
    start = time.perf_counter()
    chosen = calibrate("virtual", problem)
    seconds = time.perf_counter() - start
    print(f"  virtual calibration, 1000 seen + 1000 new classes ({mapper}): {seconds:.2f} s, gamma {chosen.gamma:.2f}")
    return seconds


def run(data: Path, mappers: list[str]) -> dict:
    print("Speed (this machine):")
    result = {"mapper_fit_s": mapper_seconds(data, mappers), "calibration_s": calibration_seconds(data)}
    with tempfile.TemporaryDirectory() as tmp:
        result["cli_s"] = cli_seconds(data, Path(tmp))
    original = assets.load_demo_model()
    extended = inject(original, torch.randn(1000, 16), seen=torch.randn(1000, 16))
    original_s, extended_s = inference_seconds(original), inference_seconds(extended)
    result["inference_s"] = {"original": original_s, "injected": extended_s, "ratio": extended_s / original_s}
    print(f"  inference, batch 32: original {original_s * 1000:.0f} ms, with 1000 injected classes "
          f"{extended_s * 1000:.0f} ms (ratio {extended_s / original_s:.3f})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--mappers", nargs="+", default=list_mappers())
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    result = run(assets.data_dir(args.data), args.mappers)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
