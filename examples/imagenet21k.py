"""Every ImageNet-21K concept in an ImageNet-1K model, and the WordNet path of each prediction.

Injects all 20,844 ImageNet-21K synsets the demo EfficientNet-Lite0 lacks into its 1000-class head
(seconds: their texts ship with the package), then prints hierarchical top-3 predictions, each with
its path from ``entity`` down, for one photo of a few CUB birds and Oxford flowers.

    python examples/imagenet21k.py [--data DIR] [--photos 4]
"""
from __future__ import annotations

import argparse
import csv
import time

import inject
from inject.assets import data_dir, load_demo_model
from inject.images import model_logits
from inject.knowledge.paths import hierarchical_topk, label_wnids
from inject.knowledge.sets import model_wnids, named_set


def first_photos(folder, count: int) -> list[tuple[str, object]]:
    """(class name, path) of the first photo of each of the first ``count`` classes in ``folder/labels.csv``."""
    seen, picked = set(), []
    with open(folder / "labels.csv") as f:
        for row in csv.DictReader(f):
            if row["class_name"] not in seen and len(picked) < count:
                seen.add(row["class_name"])
                picked.append((row["class_name"].split(".", 1)[-1].replace("_", " "), folder / row["file"]))
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--photos", type=int, default=4, help="photos from each of CUB and Flowers-102")
    args = parser.parse_args()

    start = time.perf_counter()
    model = inject.inject(load_demo_model(), named_set("imagenet21k", exclude=model_wnids(None)), progress=True)
    labels = inject.labels(model)
    print(f"{len(labels)} classes in {time.perf_counter() - start:.1f} s\n")

    data = data_dir(args.data)
    photos = first_photos(data / "cub_001_050_224", args.photos) + first_photos(data / "flowers102_224", args.photos)
    logits = model_logits(model, [path for _, path in photos], progress=False)
    for (truth, _), top in zip(photos, hierarchical_topk(logits, labels, k=3, wnids=label_wnids(labels))):
        print(truth)
        for entry in top:
            print(f"  {entry['score']:6.2f}  {entry['label']:40.40}  {' > '.join(entry['path'][-4:])}")


if __name__ == "__main__":
    main()
