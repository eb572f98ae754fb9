"""Model folders against the single-file path: the same 5 names, cold CLI processes, side by side in one run.

* the demo EfficientNet-Lite0 (real weights) as one ``.safetensors`` file (``inject.save_model``) and as
  a timm folder (timm's own ``save_for_hf``);
* a ViT-B/16 (random weights, 1000 classes) as one timm ``vit_base_patch16_224`` file and as a
  transformers ``ViTForImageClassification`` folder built from ``ViTConfig()`` (the ViT-B/16 defaults).

Each command runs ``--repeats`` times with a warm embedding cache (one untimed run first), the two paths
of a model alternating; the median wall seconds of each and their ratio folder / file are reported.

    python -m benchmarks.folders [--repeats 3] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

import timm
import torch

from inject import assets, save_model
from benchmarks.speed import FIRST_RUN_NAMES
from benchmarks.timing import cli_wall_seconds


def _models(workdir: Path) -> dict[str, dict[str, Path]]:
    """{model: {"file": path, "folder": path}} for the demo model and a ViT-B/16."""
    demo = assets.load_demo_model()
    save_model(demo, workdir / "lite0.safetensors")
    timm.models.save_for_hf(demo, workdir / "lite0-folder", safe_serialization=True)
    torch.manual_seed(0)
    save_model(timm.create_model("vit_base_patch16_224", pretrained=False).eval(), workdir / "vitb16.safetensors")
    from timm.data import ImageNetInfo
    from transformers import ViTConfig, ViTForImageClassification

    labels = ImageNetInfo().label_descriptions()
    config = ViTConfig(id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels) if labels.count(n) == 1})
    ViTForImageClassification(config).save_pretrained(workdir / "vitb16-folder")
    return {"EfficientNet-Lite0 (real weights): timm folder": {"file": workdir / "lite0.safetensors", "folder": workdir / "lite0-folder"},
            "ViT-B/16 (random weights): transformers folder": {"file": workdir / "vitb16.safetensors", "folder": workdir / "vitb16-folder"}}


def _cli(source: Path, classes: Path, output: Path, env: dict[str, str]) -> float:
    return cli_wall_seconds([source, "--classes", classes, "-o", output, "--quiet", "--force"], env)


def run(repeats: int = 3) -> list[dict]:
    """One row per model: median seconds of the file path and the folder path, and their ratio."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        classes = workdir / "five.txt"
        classes.write_text("\n".join(FIRST_RUN_NAMES) + "\n")
        env = {**os.environ, "INJECT_CACHE_DIR": str(workdir / "cache")}
        for label, paths in _models(workdir).items():
            outputs = {"file": workdir / "out.safetensors", "folder": workdir / "out-folder"}
            for kind in paths:  # warm the embedding cache and the page cache
                _cli(paths[kind], classes, outputs[kind], env)
            seconds: dict[str, list[float]] = {"file": [], "folder": []}
            for _ in range(repeats):
                for kind in paths:
                    seconds[kind].append(_cli(paths[kind], classes, outputs[kind], env))
            file_s, folder_s = statistics.median(seconds["file"]), statistics.median(seconds["folder"])
            rows.append({"model": label, "file_s": file_s, "folder_s": folder_s, "ratio": folder_s / file_s,
                         "repeats": repeats})
            print(f"  {label}: file {file_s:.1f} s, folder {folder_s:.1f} s, ratio {folder_s / file_s:.2f}", flush=True)
    return rows


def tables(rows: list[dict]) -> str:
    lines = ["| model | single file s | folder s | folder / file |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['file_s']:.1f} | {r['folder_s']:.1f} | {r['ratio']:.2f} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = run(args.repeats)
    print(tables(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
