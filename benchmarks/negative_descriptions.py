"""Do negative descriptions help? Crested vs Least Auklet (CUB 005 / 006) told apart from text alone.

Both species are injected into the real EfficientNet-Lite0 head from three kinds of text: their
names, "a small seabird with / without a crest", and both together. Reported per mapper: the
cosine between the two descriptors, between the two predicted rows, and the accuracy of telling
their CUB photos apart (the two new rows only, no offset needed). Names are embedded with the
template ensemble, as the CLI does; the sentences as they are.

    python -m benchmarks.negative_descriptions [--data DIR] [--mappers hypernet crafted]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from benchmarks.cub import cub_features
from benchmarks.heldout import imagenet_features
from inject import assets
from inject.mappers import create_mapper
from inject.rows import predict_new_rows
from inject.semantics import encode_names

TEXTS = {
    "names": ["Crested Auklet", "Least Auklet"],
    "with / without a crest": ["a small seabird with a crest", "a small seabird without a crest"],
    "names + crest / no crest": ["Crested Auklet, a small seabird with a crest",
                                 "Least Auklet, a small seabird without a crest"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--mappers", nargs="+", default=["hypernet", "crafted"])
    args = parser.parse_args()
    data = assets.data_dir(args.data)
    _, _, weight, bias = imagenet_features(data)
    features, labels, species = cub_features(data)
    pair = torch.tensor([species.index("005.Crested_Auklet"), species.index("006.Least_Auklet")])
    photos, which = features[torch.isin(labels, pair)], (labels[torch.isin(labels, pair)] == pair[1]).long()
    seen = encode_names(list(assets.imagenet_class_names()))
    print(f"{'mapper':9} {'text':26} {'text cos':>8} {'row cos':>8} {'crested':>8} {'least':>8} {'mean':>8}")
    for mapper in args.mappers:
        for label, texts in TEXTS.items():
            new = encode_names(texts) if label == "names" else encode_names(texts, templates=("{}",))
            rows = predict_new_rows(weight, bias, seen, new, create_mapper(mapper), calibration="none")
            predicted = (photos @ rows.weight.T + rows.bias).argmax(1)
            accuracy = [float((predicted[which == k] == k).float().mean()) for k in (0, 1)]
            print(f"{mapper:9} {label:26} {float(F.cosine_similarity(new[0], new[1], dim=0)):8.3f} "
                  f"{float(F.cosine_similarity(rows.weight[0], rows.weight[1], dim=0)):8.3f} "
                  f"{accuracy[0]:8.3f} {accuracy[1]:8.3f} {sum(accuracy) / 2:8.3f}", flush=True)


if __name__ == "__main__":
    main()
