"""B2: ImageNet -> CUB transfer. Inject the 50 CUB species of ``$INJECT_DATA/cub_001_050_224`` by name.

Real EfficientNet-Lite0 (1000 ImageNet classes) gets 50 new rows, one per CUB-200 species 001-050,
predicted from descriptors (ConceptNet / Wiki2Vec vectors of the ICIS release, or MiniLM embeddings
of the names). Reported per mapper and descriptor source:

* ZSL top-1 among the 50 species, per-class mean over all 2889 photos;
* GZSL over 1050 classes: the 1000 ImageNet sample photos as seen, the CUB photos as unseen,
  S / U / H with the shipped offset (virtual features), with none, with the ZLA prior, the best H over
  every offset ("oracle"), AUSUC;
* the same ZSL top-1 split into the species ImageNet-1K already has in some form (albatrosses
  001-003, indigo bunting 014, goldfinch 048: "overlap") and the 45 others ("novel").

Row order of the word-vector files is ``xlsa17_splits/CUB/allclasses.txt`` (checked identical to the
release's class-name file), so no pickled array is read.

    python -m benchmarks.cub [--data DIR] [--mappers crafted conse] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.backbones import cached_features
from benchmarks.heldout import COLUMNS, imagenet_features, injected_rows, score
from inject import assets
from inject.mappers import list_mappers
from inject.metrics import zsl_top1
from inject.semantics import as_descriptors, encode_names

OVERLAP_IDS = (1, 2, 3, 14, 48)  # CUB species with an ImageNet-1K counterpart


def cub_features(data: Path, architecture: str = assets.DEMO_ARCHITECTURE) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Pre-logits ``[N, D]`` of the CUB photos (under ``architecture``), their species index 0..49, species folder
    names; cached (``benchmarks.backbones``)."""
    folder = data / "cub_001_050_224"
    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    species = sorted({r["class_name"] for r in rows})
    labels = torch.tensor([species.index(r["class_name"]) for r in rows])
    return cached_features(architecture, folder.name, [folder / r["file"] for r in rows]), labels, species


def descriptor_sources(data: Path, species: list[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(seen ``[1000, E]``, new ``[50, E]``) descriptors per source."""
    embeddings = data / "class_text_embeddings"
    order = (data / "xlsa17_splits" / "CUB" / "allclasses.txt").read_text().split()
    rows = [order.index(s) for s in species]
    sources = {}
    for name, imagenet_file, cub_file in [
        ("conceptnet", "conceptnet/imgnet_cn_list.npy", "conceptnet/CUB_cn_sum_list.npy"),
        ("wiki2vec", "wiki2vec/imgnet_wiki_list.npy", "wiki2vec/CUB_wiki_sum_list.npy"),
    ]:
        sources[name] = (as_descriptors(np.load(embeddings / imagenet_file)), as_descriptors(np.load(embeddings / cub_file)[rows]))
    names = [s.split(".", 1)[1].replace("_", " ") for s in species]
    text = encode_names(list(assets.imagenet_class_names()) + names, progress=True)
    sources["minilm-names"] = (text[:1000], text[1000:])
    return sources


def run(data: Path, mappers: list[str], sources: list[str] | None = None) -> list[dict]:
    """B2 rows, printed as they come; each carries its seen-unseen ``curve``."""
    seen_features, seen_labels, weight, bias = imagenet_features(data)
    cub, cub_labels, species = cub_features(data)
    features, labels = torch.cat([seen_features, cub]), torch.cat([seen_labels, cub_labels + 1000])
    unseen = torch.arange(1000, 1000 + len(species))
    is_cub = labels >= 1000
    is_overlap = is_cub & torch.tensor([int(s.split(".")[0]) in OVERLAP_IDS for s in species])[(labels - 1000).clamp_min(0)]
    print(f"B2: {len(cub_labels)} CUB photos of {len(species)} species, {len(seen_labels)} ImageNet photos as seen")
    print(f"{'mapper':11} {'descriptors':13} " + " ".join(f"{c:>8}" for c in COLUMNS))
    results = []
    for source, (seen_desc, new_desc) in descriptor_sources(data, species).items():
        if sources and source not in sources:
            continue
        for mapper_name in mappers:
            rows, gammas, seconds = injected_rows(weight, bias, seen_desc, new_desc, mapper_name)
            logits = features @ torch.cat([weight, rows.weight]).T + torch.cat([bias, rows.bias])
            result = {"mapper": mapper_name, "descriptors": source, **score(logits, labels, unseen, gammas),
                      "zsl_novel": zsl_top1(logits[is_cub & ~is_overlap], labels[is_cub & ~is_overlap], unseen),
                      "zsl_overlap": zsl_top1(logits[is_overlap], labels[is_overlap], unseen), **seconds}
            results.append(result)
            print(f"{mapper_name:11} {source:13} " + " ".join(f"{result[c]:8.3f}" for c in COLUMNS), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--mappers", nargs="+", default=list_mappers())
    parser.add_argument("--sources", nargs="+", default=None, help="descriptor sources (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results = run(assets.data_dir(args.data), args.mappers, args.sources)
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "curve"} for r in results], indent=2))


if __name__ == "__main__":
    main()
