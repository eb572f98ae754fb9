"""Descriptions end to end through the CLI: ``name: free text`` lines against bare names, on real photos.

A user who knows more than a class's name writes it after a colon in the class file
(``Black footed Albatross: a variety of albatross with black feet``). This benchmark runs the real
``inject-classes`` command on the demo model file, as a user would, for the CUB-50 and Flowers-102
species, with four class files / options:

* names, default options (the names-only path: WordNet knowledge, rehearsed weights);
* names, ``--descriptors names`` (the name prompts alone, the earlier behaviour);
* ``name: description``, ``--descriptors names`` (the name and the user's text, no WordNet);
* ``name: description``, default options (the user's text on top of the WordNet knowledge).

Stand-in descriptions: nobody here wrote descriptions of these species, so each line carries the
WordNet gloss of the synset the name resolves to (as the knowledge path resolves it; species that do
not resolve get no description), a short public definition of the kind a user might type. They are
therefore *not* new knowledge for the default path, which already encodes that gloss: the third row
shows what a user's sentence adds without WordNet, the fourth what repeating known text does.
Species the model already has by name are skipped (``--allow-existing``) with their photos. Scores use
the rows and the offset the CLI wrote: ZSL top-1 among the new classes; S / U / H over
1000 + K classes with the ImageNet sample photos as the seen side.

    python -m benchmarks.descriptions [--data DIR] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.imagenet21k import head, photo_sets
from benchmarks.heldout import imagenet_features
from inject import assets, save_model
from inject.knowledge.context import resolve_new
from inject.knowledge.sets import model_wnids
from inject.metrics import gzsl, zsl_top1

RUNS = {  # label -> (class file with descriptions?, extra CLI options)
    "names (default)": (False, []),
    "names, --descriptors names": (False, ["--descriptors", "names"]),
    "name: description, --descriptors names": (True, ["--descriptors", "names"]),
    "name: description (default)": (True, []),
}


def stand_in_descriptions(names: list[str]) -> dict[str, str]:
    """Species name -> the WordNet gloss of the synset it resolves to (resolved as new names beside ImageNet-1K)."""
    return {name: r.gloss for name, r in zip(names, resolve_new(names, model_wnids(None))) if r.wnid and r.gloss}


def class_file(path: Path, names: list[str], descriptions: dict[str, str] | None) -> Path:
    """Write one line per class: ``name`` or ``name: description``."""
    lines = [f"{n}: {descriptions[n]}" if descriptions and n in descriptions else n for n in names]
    path.write_text("\n".join(lines) + "\n")
    return path


def inject_cli(model_path: Path, classes: Path, options: list[str], output: Path, env: dict[str, str]) -> None:
    """Run ``inject-classes`` as a user would; fail loudly if it fails."""
    command = [sys.executable, "-m", "inject.cli", str(model_path), "--classes", str(classes), "-o", str(output),
               "--quiet", "--allow-existing", *options]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()}")


def scores(output: Path, seen: tuple[torch.Tensor, torch.Tensor], new: tuple[torch.Tensor, torch.Tensor],
           names: list[str]) -> dict:
    """ZSL and S / U / H at the written offset: ``seen`` / ``new`` are (pre-logits, class index) of the photos,
    ``names`` the new classes' names by index (species the model already had were skipped: their photos drop out)."""
    label_names, weight, bias = head(output)
    row_of = {name: 1000 + i for i, name in enumerate(label_names[1000:])}
    keep = torch.tensor([names[c] in row_of for c in new[1].tolist()])
    new_rows = torch.tensor([row_of[names[c]] for c in new[1][keep].tolist()], dtype=torch.long)
    features, labels = torch.cat([seen[0], new[0][keep]]), torch.cat([seen[1], new_rows])
    unseen = torch.arange(1000, weight.shape[0])
    logits = features @ weight.T + bias
    result = gzsl(logits, labels, unseen)
    return {"zsl": zsl_top1(logits, labels, unseen), "S": result.seen, "U": result.unseen, "H": result.harmonic}


def run(data: Path) -> dict:
    """Per photo set: how many species got a description, and the scores of every run in ``RUNS``."""
    os.environ["INJECT_DATA"] = str(data)
    seen_features, seen_labels, _, _ = imagenet_features(data)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        model_path = work / "lite0.safetensors"
        save_model(assets.load_demo_model(), model_path)
        env = {**os.environ, "INJECT_CACHE_DIR": str(work / "cache")}
        for dataset, features, labels, names in photo_sets(data):
            descriptions = stand_in_descriptions(names)
            files = {False: class_file(work / "names.txt", names, None),
                     True: class_file(work / "described.txt", names, descriptions)}
            found = {"classes": len(names), "described": len(descriptions),
                     "example": next(f"{n}: {d}" for n, d in descriptions.items())}
            for label, (described, options) in RUNS.items():
                output = work / "out.safetensors"
                inject_cli(model_path, files[described], options, output, env)
                found[label] = scores(output, (seen_features, seen_labels), (features, labels), names)
                print(f"  {dataset:11} {label:40} " + " ".join(f"{k} {v:.3f}" for k, v in found[label].items()), flush=True)
            injected = set(head(output)[0][1000:])
            found["already_in_model"] = [n for n in names if n not in injected]  # what --allow-existing skipped
            results[dataset] = found
    return results


def tables(results: dict) -> str:
    """Markdown: one table per photo set, a row per run."""
    lines = []
    for dataset, found in results.items():
        skipped = f"; skipped as ImageNet-1K classes: {', '.join(found['already_in_model'])}" if found["already_in_model"] else ""
        lines += [f"**{dataset}** ({found['described']} of {found['classes']} species described{skipped}; e.g. "
                  f"`{found['example']}`)", "", "| class file, options | ZSL | S | U | H |", "|---|---|---|---|---|"]
        lines += [f"| {label} | " + " | ".join(f"{found[label][k]:.3f}" for k in ("zsl", "S", "U", "H")) + " |"
                  for label in RUNS]
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = run(assets.data_dir(args.data))
    print(tables(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
