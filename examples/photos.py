"""Photos sharpen injected classes: a few labelled photos per new class, then the rest as a test.

Injects 10 CUB bird species into the real ImageNet EfficientNet-Lite0 twice, from their names alone and
with ``--shots`` photos of each, and compares top-1 on the species' other photos (among all 1010 classes).
The summary lists each species' leave-photos-out top-1 and what it is confused with, as the CLI's does.

    python examples/photos.py [--data DIR] [--shots 3]
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import torch

import inject
from inject.assets import data_dir, load_demo_model
from inject.images import model_logits

SPECIES_IDS = range(4, 14)  # ten species ImageNet-1K lacks


def species_photos(cub: Path) -> dict[str, list[Path]]:
    """``{species name: [photo paths]}`` of ``SPECIES_IDS``, names as users type them (``Groove billed Ani``)."""
    photos: dict[str, list[Path]] = defaultdict(list)
    with open(cub / "labels.csv") as f:
        for row in csv.DictReader(f):
            if int(row["class_id"]) in SPECIES_IDS:
                photos[row["class_name"].split(".", 1)[1].replace("_", " ")].append(cub / row["file"])
    return dict(photos)


def top1(model: torch.nn.Module, tests: dict[str, list[Path]]) -> float:
    """Top-1 over all the test photos, among every class of ``model``."""
    labels = inject.labels(model)
    paths = [p for photos in tests.values() for p in photos]
    truth = torch.tensor([labels.index(name) for name, photos in tests.items() for _ in photos])
    return (model_logits(model, paths, progress=False).argmax(1) == truth).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--shots", type=int, default=3, help="labelled photos per species")
    args = parser.parse_args()

    photos = species_photos(data_dir(args.data) / "cub_001_050_224")
    shots = {name: paths[: args.shots] for name, paths in photos.items()}
    tests = {name: paths[args.shots:] for name, paths in photos.items()}
    model = load_demo_model()

    names_only = inject.inject(model, list(photos))
    with_photos = inject.inject(model, list(photos), images=shots)
    for name, entry in with_photos.pretrained_cfg["inject"]["photos"]["per_class"].items():
        confused = f", taken for {', '.join(entry['confused_with'])}" if entry.get("confused_with") else ""
        print(f"{name:28} {entry['photos']} photos, leave-photos-out top-1 {entry.get('held_out_top1', float('nan')):.2f}{confused}")
    print(f"\ntop-1 on {sum(map(len, tests.values()))} other photos, among {len(inject.labels(with_photos))} classes: "
          f"names only {top1(names_only, tests):.3f}, with {args.shots} photos per species {top1(with_photos, tests):.3f}")


if __name__ == "__main__":
    main()
