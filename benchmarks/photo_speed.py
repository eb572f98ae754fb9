"""Photo features on the CPU, side by side: what channels-last batches and keeping freed memory buy.

Each configuration runs in a fresh process (the allocator setting is for the whole process) on the same
CUB photos through the real EfficientNet-Lite0: read, preprocess, forward to the head's inputs.

* before: contiguous layout, batches of 32 (how ``inject.images.run_on_photos`` ran until this change);
* library: ``run_on_photos`` as the Python API runs it (channels-last on the CPU, batches of 8);
* CLI: the same after ``inject.allocator.keep_freed_memory``, as ``inject-classes`` runs it;
* large photos: 12-megapixel JPEGs (CUB photos enlarged to 4000 x 3000) read whole against read in PIL's draft
  mode as ``run_on_photos`` reads them (``inject.images.draft_side``), with the cosine between their features.

    python -m benchmarks.photo_speed [--data DIR] [--photos 240] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from inject import assets

CONFIGURATIONS = ("before", "library", "CLI")

CHILD = """
import json, sys, time, torch
from inject import assets
from inject.allocator import keep_freed_memory
from inject.images import image_transform, pre_logits, _photo_tensor
configuration, paths = sys.argv[1], json.loads(sys.stdin.read())
if configuration == "CLI":
    keep_freed_memory()
model = assets.load_demo_model().eval()
start = time.perf_counter()
if configuration == "before":
    transform = image_transform(model)
    with torch.inference_mode():
        for i in range(0, len(paths), 32):
            batch = torch.stack([_photo_tensor(p, transform) for p in paths[i:i + 32]])
            model.forward_head(model.forward_features(batch), pre_logits=True)
else:
    pre_logits(model, paths, progress=False)
print(time.perf_counter() - start)
"""


def photo_paths(data: Path, count: int) -> list[str]:
    """The first ``count`` photos of the CUB-50 set, in file order."""
    folder = data / "cub_001_050_224"
    return [str(p) for p in sorted(folder.rglob("*.jpg"))[:count]]


def child_seconds(configuration: str, paths: list[str]) -> float:
    """Seconds one fresh process takes for ``paths`` in ``configuration`` (model loading excluded)."""
    out = subprocess.run([sys.executable, "-c", CHILD, configuration], input=json.dumps(paths), text=True,
                         capture_output=True, check=True, env=dict(os.environ))
    return float(out.stdout.strip().splitlines()[-1])


def large_photos(data: Path, count: int = 6) -> dict:
    """ms per 12-megapixel JPEG read and preprocessed whole and in draft mode, and the lowest feature cosine."""
    import tempfile

    import torch
    from PIL import Image

    from inject.images import _photo_tensor, draft_side, image_transform

    model = assets.load_demo_model().eval()
    transform = image_transform(model)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, source in enumerate(photo_paths(data, count)):
            paths.append(Path(tmp) / f"{i}.jpg")
            Image.open(source).convert("RGB").resize((4000, 3000), Image.BICUBIC).save(paths[-1], quality=92)
        seconds, features = {}, {}
        for way, side in (("whole", None), ("draft", draft_side(transform))):
            start = time.perf_counter()
            batch = torch.stack([_photo_tensor(p, transform, side) for p in paths])
            seconds[way] = 1000 * (time.perf_counter() - start) / count
            with torch.inference_mode():
                features[way] = model.forward_head(model.forward_features(batch), pre_logits=True)
    cosine = torch.nn.functional.cosine_similarity(features["whole"], features["draft"]).min()
    return {"photos": count, "ms_per_photo": seconds, "lowest_cosine": float(cosine)}


def run(data: Path, photos: int = 240, repeats: int = 3) -> dict:
    """Milliseconds per photo, median over ``repeats`` rounds that alternate the configurations."""
    paths = photo_paths(data, photos)
    rounds = [{c: child_seconds(c, paths) for c in CONFIGURATIONS} for _ in range(repeats)]
    median = {c: sorted(r[c] for r in rounds)[len(rounds) // 2] for c in CONFIGURATIONS}
    return {"photos": len(paths), "repeats": repeats, "cores": os.cpu_count(), "load": os.getloadavg()[0],
            "ms_per_photo": {c: 1000 * s / len(paths) for c, s in median.items()}, "large": large_photos(data)}


def section(results: dict) -> str:
    """Markdown table: ms per photo and the speed-up over ``before`` per configuration."""
    ms = results["ms_per_photo"]
    rows = "\n".join(f"| {c} | {ms[c]:.1f} | {ms['before'] / ms[c]:.2f}x |" for c in CONFIGURATIONS)
    return (f"### Photo features on the CPU\n\n{results['photos']} CUB photos through EfficientNet-Lite0 to the head's "
            f"inputs, each configuration in a fresh process, median of {results['repeats']} alternating rounds "
            f"({results['cores']} cores, load average {results['load']:.1f}; `python -m benchmarks.photo_speed`).\n\n"
            "| configuration | ms per photo | speed-up |\n|---|---|---|\n" + rows + "\n\n" + _large_line(results["large"]))


def _large_line(large: dict) -> str:
    """One sentence: reading 12-megapixel JPEGs whole against in draft mode."""
    ms = large["ms_per_photo"]
    return (f"{large['photos']} 12-megapixel JPEGs (CUB photos enlarged to 4000 x 3000), read and preprocessed: "
            f"{ms['whole']:.0f} ms per photo whole, {ms['draft']:.0f} ms in draft mode ({ms['whole'] / ms['draft']:.1f}x); "
            f"lowest cosine between the two ways' features {large['lowest_cosine']:.4f}.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="evaluation data folder (default: INJECT_DATA)")
    parser.add_argument("--photos", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(section(run(assets.data_dir(args.data), args.photos, args.repeats)))


if __name__ == "__main__":
    main()
