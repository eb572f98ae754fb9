"""Demo: teach the ImageNet EfficientNet-Lite0 twenty bird species it has never seen, from their names.

Injects 20 CUB-200 species that ImageNet-1K lacks (CUB classes 004-024 without 014, indigo bunting,
which ImageNet has) into the real 1000-class head, then shows top-5 predictions on one real CUB photo
per species, with each species' image-free expected top-1 among the 20 (``inject.trust``, made before any
photo) beside the top-1 measured on all its photos, and the accuracy over all photos (among all 1020 classes).

    python examples/demo.py [--data DIR] [--mapper conse] [--photos-per-class 1]
"""
from __future__ import annotations

import argparse
import csv
import time

import torch

import inject
from inject.assets import data_dir, load_demo_model
from inject.images import pre_logits

SPECIES_IDS = [i for i in range(4, 25) if i != 14]  # 20 species absent from ImageNet-1K


def cub_name(folder: str) -> str:
    """``004.Groove_billed_Ani`` -> ``Groove billed Ani``."""
    return folder.split(".", 1)[1].replace("_", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--mapper", default=inject.DEFAULT_MAPPER, choices=inject.list_mappers())
    parser.add_argument("--photos-per-class", type=int, default=1, help="photos shown per species")
    args = parser.parse_args()

    cub = data_dir(args.data) / "cub_001_050_224"
    with open(cub / "labels.csv") as f:
        photos = [row for row in csv.DictReader(f) if int(row["class_id"]) in SPECIES_IDS]
    folders = sorted({row["class_name"] for row in photos})
    new_names = [cub_name(folder) for folder in folders]

    start = time.perf_counter()
    model = load_demo_model()
    extended = inject.inject(model, new_names, mapper=args.mapper, progress=True)
    names = inject.labels(extended)
    print(f"injected {len(new_names)} species into the 1000-class head in {time.perf_counter() - start:.1f} s "
          f"(gamma {extended.pretrained_cfg['inject']['gamma']:.2f})\n")

    features = pre_logits(extended, [cub / row["file"] for row in photos], progress=True)
    with torch.no_grad():
        logits = extended.get_classifier()(features)
    truth = torch.tensor([1000 + folders.index(row["class_name"]) for row in photos])
    among_new = logits[:, 1000:].argmax(1) + 1000 == truth  # each photo's top-1 among the 20 species
    estimate = extended.pretrained_cfg["inject"]["classes"]  # image-free, made before any photo was seen
    shown = {folder: 0 for folder in folders}
    for row, scores, label in zip(photos, logits.softmax(1), truth):
        if shown[row["class_name"]] >= args.photos_per_class:
            continue
        shown[row["class_name"]] += 1
        top = scores.topk(5)
        guesses = ", ".join(f"{'*' if i >= 1000 else ''}{names[i]} {p:.2f}" for p, i in zip(top.values.tolist(), top.indices.tolist()))
        mark = "ok " if top.indices[0] == label else ("top5" if label in top.indices else "   ")
        measured = among_new[truth == label].float().mean()
        print(f"{mark} {names[label]:28} -> {guesses} | among the 20: expected {estimate[names[label]]['expected_top1']:.2f}, "
              f"measured {measured:.2f}")
    top5 = logits.topk(5, dim=1).indices
    print(f"\n* = injected class. Over all {len(photos)} photos of the 20 species, among 1020 classes: "
          f"top-1 {(top5[:, 0] == truth).float().mean():.3f}, top-5 {(top5 == truth[:, None]).any(1).float().mean():.3f}, "
          f"predicted as some injected species {(top5[:, 0] >= 1000).float().mean():.3f}")


if __name__ == "__main__":
    main()
