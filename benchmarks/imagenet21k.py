"""ImageNet-21K into the 1000-class demo head: cold CLI time and peak memory, inference cost, Hit@k on photos.

* ``inject-classes lite0.safetensors --classes SET`` as a cold process with an empty embedding cache for
  SET = ``2-hops`` (1,549 synsets), ``3-hops`` (7,860) and ``imagenet21k`` (all 21,843 of timm's table
  less the model's own: 20,844): wall seconds and peak RSS (``os.wait4`` of the child);
* inference time at batch 32 of the 21,844-class model over the original (median of 5);
* DGP-style accuracy on real photos: the CUB-50 and Flowers-102 species that are ImageNet-21K synsets
  (resolved offline, exact or normalised lemma matches only; the unmapped ones are listed), ranked among
  all 21K + 1K classes of the ``imagenet21k`` model (generalised), among its 20,844 new classes only (DGP's
  zero-shot "all"), and among the 2-hops classes of the ``2-hops`` model for the species in that split:
  Hit@1/2/5/10 of the right synset, mean over classes (ties at random). Baseline in the same run, over the
  same candidates: the photo's top ImageNet-1K class, its name's text embedding, nearest class-name embeddings.
  Hit@5 ours minus the baseline comes with a 95% paired bootstrap interval over classes.
* the same Hit@k for held-out ImageNet-1K classes, a larger set of real photos: 5 folds each hide 200
  classes from the demo head, ImageNet-21K is injected into the 800-class model through the API, and
  each hidden class's sample photo is ranked among all rows (``heldout_imagenet``);
* a hierarchical top-3 (``inject.knowledge.paths``) of the first CUB photo.

    OMP_NUM_THREADS=1 python -m benchmarks.imagenet21k [--data DIR] [--sets 2-hops 3-hops imagenet21k] [--json OUT]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import timm
import torch
import torch.nn.functional as F

from benchmarks.cub import cub_features
from benchmarks.heldout import heldout_folds, imagenet_features
from benchmarks.names import flowers_features
from inject import assets, inject, save_model
from inject.checkpoint import load_weights
from inject.knowledge.context import resolve_new
from inject.knowledge.paths import hierarchical_topk, label_wnids
from inject.knowledge.resolve import BRACKETED
from inject.knowledge.sets import imagenet21k_wnids, model_wnids
from inject.knowledge.wordnet import WNID
from inject.metrics import paired_bootstrap
from inject.names import class_lines
from inject.semantics import encode_names

KS = (1, 2, 5, 10)


def cli_run(model_path: Path, classes: str, workdir: Path) -> dict[str, float]:
    """Wall seconds and peak RSS (MB) of one cold ``inject-classes`` process with an empty cache."""
    env = {**os.environ, "INJECT_CACHE_DIR": tempfile.mkdtemp(dir=workdir)}
    output = workdir / f"{classes}.safetensors"
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "inject.cli", str(model_path), "--classes", classes,
                              "-o", str(output), "--quiet"], env=env)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"inject-classes --classes {classes} failed")
    result = {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "outputs": None}
    result["outputs"] = int(load_weights(output)[1]["num_classes"])
    print(f"  CLI --classes {classes:11}: {result['seconds']:6.1f} s, peak RSS {result['peak_rss_mb']} MB, "
          f"{result['outputs']} outputs", flush=True)
    return result


def head(path: Path) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """(label names, weight ``[C, D]``, bias ``[C]``) of an injected demo model file."""
    tensors, metadata = load_weights(path)
    return json.loads(metadata["label_names"]), tensors["classifier.weight"].float(), tensors["classifier.bias"].float()


@torch.inference_mode()
def batch_seconds(model: torch.nn.Module, repeats: int = 5) -> float:
    """Median seconds of one forward pass on a ``[32, 3, 224, 224]`` batch."""
    x = torch.randn(32, 3, 224, 224)
    model(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def inference_ratio(path: Path) -> dict[str, float]:
    """Batch-32 seconds of the injected model in ``path`` and of the original, and their ratio."""
    tensors, metadata = load_weights(path)
    model = timm.create_model(assets.DEMO_ARCHITECTURE, num_classes=int(metadata["num_classes"])).eval()
    model.load_state_dict(tensors)
    injected, original = batch_seconds(model), batch_seconds(assets.load_demo_model())
    print(f"  inference at batch 32: {injected:.3f} s vs {original:.3f} s original ({injected / original:.2f}x)")
    return {"injected_s": injected, "original_s": original, "ratio": injected / original}


def species_wnids(names: list[str], allowed: set[str]) -> dict[str, str | None]:
    """Species name -> its synset when an exact or normalised lemma match is in ``allowed``, else ``None``.

    Resolved as new names beside the ImageNet-1K classes (``resolve_new``: the dataset's own species give
    each other context, so ``Cardinal`` is the bird), the chosen sense first.
    """
    mapped = {}
    for name, resolution in zip(names, resolve_new(names, model_wnids(None))):
        senses = [resolution.wnid, *resolution.alternatives] if resolution.how in ("exact", "normalised") else []
        mapped[name] = next((s for s in senses if s in allowed), None)
    return mapped


def photo_sets(data: Path) -> list[tuple[str, torch.Tensor, torch.Tensor, list[str]]]:
    """(dataset, pre-logits ``[N, D]``, class index ``[N]``, readable class names) of CUB-50 and Flowers-102."""
    cub, cub_labels, species = cub_features(data)
    flowers, flower_labels, flower_names, _ = flowers_features(data)
    cub_names = [s.split(".", 1)[1].replace("_", " ") for s in species]
    return [("CUB-50", cub, cub_labels, cub_names), ("Flowers-102", flowers, flower_labels, flower_names)]


def class_hits(scores: torch.Tensor, target: torch.Tensor, classes: torch.Tensor) -> dict[str, torch.Tensor]:
    """Hit@k of the ``target`` column per photo (``scores`` ``[N, C]``), averaged per class: ``[classes]`` per k.

    Ties (equal text embeddings of same-named classes) are broken at random: a photo with ``g`` better and
    ``e`` equal columns (its own included) counts ``clamp((k - g) / e, 0, 1)``.
    """
    own = scores.gather(1, target[:, None])
    greater, equal = (scores > own).sum(1).float(), (scores == own).sum(1).float()
    return {f"hit@{k}": torch.stack([((k - greater) / equal).clamp(0, 1)[classes == c].mean() for c in classes.unique()])
            for k in KS}


def hits(per_class: dict[str, torch.Tensor]) -> dict[str, float]:
    """The mean over classes of each ``class_hits`` entry."""
    return {k: round(float(v.mean()), 4) for k, v in per_class.items()}


def difference(ours: dict[str, torch.Tensor], baseline: dict[str, torch.Tensor], k: int = 5) -> dict[str, float]:
    """Hit@k ours minus the baseline, mean over classes, with its 95% paired bootstrap interval over classes."""
    mean, low, high = paired_bootstrap(ours[f"hit@{k}"], baseline[f"hit@{k}"])
    return {"k": k, "mean": round(mean, 4), "low": round(low, 4), "high": round(high, 4)}


def evaluate(features, labels, names, model_head, baseline_1k, only_new: bool) -> dict | None:
    """Ours and the baseline on the photos of mapped species; ``only_new``: candidates are the new rows."""
    label_names, weight, bias = model_head
    wnids = label_wnids(label_names)
    candidates = torch.arange(1000 if only_new else 0, len(label_names))
    row_of = {w: i for i, w in enumerate(wnids) if w is not None and i in set(candidates.tolist())}
    mapped = species_wnids(names, set(row_of))
    keep = torch.tensor([mapped[names[c]] is not None for c in labels.tolist()])
    if not keep.any():
        return None
    feats, classes = features[keep], labels[keep]
    target_row = torch.tensor([row_of[mapped[names[c]]] for c in classes.tolist()])
    target = torch.searchsorted(candidates, target_row)
    ours = class_hits(feats @ weight[candidates].T + bias[candidates], target, classes)
    baseline = class_hits(nearest_text(feats, baseline_1k, [_readable(label_names[i]) for i in range(1000)],
                                       [_readable(label_names[i]) for i in candidates.tolist()]), target, classes)
    return {"photos": int(keep.sum()), "classes": len(classes.unique()), "ours": hits(ours),
            "baseline_nearest_text": hits(baseline), "difference": difference(ours, baseline),
            "mapped": {n: w for n, w in mapped.items() if w}, "unmapped": [n for n, w in mapped.items() if not w]}


def nearest_text(features: torch.Tensor, seen_head: tuple[torch.Tensor, torch.Tensor], seen_names: list[str],
                 candidate_names: list[str]) -> torch.Tensor:
    """The baseline's scores ``[N, candidates]``: text cosine of each photo's top seen class name to every candidate name."""
    predicted = (features @ seen_head[0].T + seen_head[1]).argmax(1)
    text = F.normalize(encode_names(candidate_names), dim=1)
    return encode_names([seen_names[i] for i in predicted.tolist()]) @ text.T


def heldout_imagenet(data: Path, folds: int = 5) -> dict:
    """Hit@k of held-out ImageNet-1K classes among ImageNet-21K: per fold, 200 classes leave the demo head
    (``heldout_folds`` seed 0), ``inject(..., class_lines("imagenet21k", kept names))`` adds every synset
    the 800-class model lacks, and the hidden classes' sample photos (one each) are ranked among all rows."""
    features, _, weight, bias = imagenet_features(data)
    names, wnids = list(assets.imagenet_class_names()), model_wnids(None)
    demo, per_fold, pooled = assets.load_demo_model(), [], []
    for hidden in heldout_folds(1000, folds, 200, seed=0):
        kept = torch.ones(1000, dtype=torch.bool)
        kept[hidden] = False
        seen_names = [n for n, k in zip(names, kept.tolist()) if k]
        model = copy.deepcopy(demo)
        model.classifier = torch.nn.Linear(weight.shape[1], len(seen_names))
        model.classifier.weight.data, model.classifier.bias.data = weight[kept].clone(), bias[kept].clone()
        extended = inject(model, class_lines("imagenet21k", seen_names), seen=seen_names)
        label_names = extended.pretrained_cfg["label_names"]
        row_of = {w: i for i, w in enumerate(label_wnids(label_names)) if w and i >= len(seen_names)}
        found = [(h, row_of[wnids[h]]) for h in hidden.tolist() if wnids[h] in row_of]
        photos = features[torch.tensor([h for h, _ in found])]
        target, classes = torch.tensor([r for _, r in found]), torch.arange(len(found))
        ours = class_hits(photos @ extended.classifier.weight.detach().T + extended.classifier.bias.detach(), target, classes)
        baseline = class_hits(nearest_text(photos, (weight[kept], bias[kept]), seen_names, [_readable(n) for n in label_names]),
                              target, classes)
        pooled.append((ours, baseline))
        per_fold.append({"classes": len(found), "outputs": len(label_names), "ours": hits(ours),
                         "baseline_nearest_text": hits(baseline)})
        print(f"  held-out ImageNet fold {len(per_fold)}: {len(found)} classes among {len(label_names)}: "
              f"ours {per_fold[-1]['ours']}  baseline {per_fold[-1]['baseline_nearest_text']}", flush=True)
    mean = {m: {k: round(sum(f[m][k] for f in per_fold) / folds, 4) for k in per_fold[0][m]}
            for m in ("ours", "baseline_nearest_text")}
    classes = sum(f["classes"] for f in per_fold)
    every = [{k: torch.cat([fold[m][k] for fold in pooled]) for k in pooled[0][m]} for m in (0, 1)]
    return {"folds": per_fold, "classes": classes, "photos": classes, **mean, "difference": difference(*every)}


def _readable(label: str) -> str:
    """The name part of a synset label (``giant panda (n02510455)`` -> ``giant panda``); other labels as they are."""
    bracketed = BRACKETED.fullmatch(label)
    return bracketed[1] if bracketed and WNID.fullmatch(bracketed[2]) else label


def accuracy(data: Path, outputs: dict[str, Path]) -> dict:
    """Hit@k per photo set: among all classes of the ``imagenet21k`` model, and among the 2-hops model's new classes."""
    demo = assets.load_demo_model()
    baseline_1k = (demo.classifier.weight.detach(), demo.classifier.bias.detach())
    results = {}
    settings = {"all 21K+1K": ("imagenet21k", False), "21K new only": ("imagenet21k", True), "2-hops": ("2-hops", True)}
    for setting, (set_name, only_new) in settings.items():
        if set_name not in outputs:
            continue
        model_head = head(outputs[set_name])
        for dataset, features, labels, names in photo_sets(data):
            found = evaluate(features, labels, names, model_head, baseline_1k, only_new)
            results[f"{dataset}, {setting}"] = found
            if found:
                print(f"  {dataset:11} among {setting:10} ({found['classes']} classes, {found['photos']} photos): "
                      f"ours {found['ours']}  baseline {found['baseline_nearest_text']}", flush=True)
    return results


def paths_example(data: Path, path: Path) -> list:
    """Hierarchical top-3 of the first CUB photo in the ``imagenet21k`` model (synset paths)."""
    label_names, weight, bias = head(path)
    features = photo_sets(data)[0][1][:1]
    return hierarchical_topk(features @ weight.T + bias, label_names, k=3)


def run(data: Path, sets=("2-hops", "3-hops", "imagenet21k"), workdir: Path | None = None, skip_cli: bool = False) -> dict:
    """Everything ``tables`` renders: CLI time and memory per set, inference ratio, Hit@k, a hierarchical top-3."""
    os.environ["INJECT_DATA"] = str(data)
    results: dict = {"synsets_in_timm_21k": len(imagenet21k_wnids())}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = workdir or Path(scratch)
        model_path = workdir / "lite0.safetensors"
        save_model(assets.load_demo_model(), model_path)
        if not skip_cli:
            results["cli"] = {name: cli_run(model_path, name, workdir) for name in sets}
        outputs = {name: workdir / f"{name}.safetensors" for name in sets}
        if "imagenet21k" in outputs and not skip_cli:
            results["inference"] = inference_ratio(outputs["imagenet21k"])
            results["hierarchical_top3_first_cub_photo"] = paths_example(data, outputs["imagenet21k"])
        results["accuracy"] = accuracy(data, outputs)
    results["accuracy"]["ImageNet-1K held out (5 x 200), all 21K+800"] = heldout_imagenet(data)
    return results


def tables(results: dict) -> str:
    """Markdown: CLI time / peak RSS per set, inference ratio, Hit@k ours vs the nearest-text baseline, unmapped species."""
    lines = ["| `--classes` | outputs | wall s | peak RSS MB |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {r['outputs']} | {r['seconds']:.1f} | {r['peak_rss_mb']} |" for name, r in results.get("cli", {}).items()]
    if "inference" in results:
        lines += ["", f"Inference at batch 32, {results['cli']['imagenet21k']['outputs']}-class model over the original: "
                      f"{results['inference']['ratio']:.2f}x."]
    lines += ["", "| photos, candidates | classes (photos) | ours Hit@1 / 2 / 5 / 10 | nearest-text baseline Hit@1 / 2 / 5 / 10 "
                  "| Hit@5 ours − baseline [95% CI] |", "|---|---|---|---|---|"]
    for setting, r in results["accuracy"].items():
        if r:
            ours, base = (" / ".join(f"{r[m][f'hit@{k}']:.3f}" for k in KS) for m in ("ours", "baseline_nearest_text"))
            d = r["difference"]
            lines.append(f"| {setting} | {r['classes']} ({r['photos']}) | {ours} | {base} | {d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] |")
    lines += ["", "The interval is a paired bootstrap over classes (2,000 resamples, `inject.metrics.paired_bootstrap`): "
                  "an interval that contains 0 is a difference these classes cannot tell from none."]
    for setting, r in results["accuracy"].items():
        if r and setting.endswith("all 21K+1K"):
            lines += ["", f"{setting.split(',')[0]}: {len(r['mapped'])} species are ImageNet-21K synsets; not mapped "
                          f"({len(r['unmapped'])}): {', '.join(r['unmapped'])}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--sets", nargs="+", default=["2-hops", "3-hops", "imagenet21k"])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the models here (default: a temp folder)")
    parser.add_argument("--skip-cli", action="store_true", help="reuse the models already in --workdir")
    args = parser.parse_args()
    results = run(assets.data_dir(args.data), args.sets, args.workdir, args.skip_cli)
    print(tables(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
