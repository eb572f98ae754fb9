"""Descriptions end to end through the CLI: ``name: free text`` lines against bare names, on real photos.

A user who knows more than a class's name writes it after a colon in the class file
(``Black footed Albatross: a variety of albatross with black feet``). This benchmark runs the real
``inject-classes`` command on the demo model file, as a user would, for the CUB-50 and Flowers-102
species, with four class files / options:

* names, default options (the names-only path: WordNet knowledge, rehearsed weights);
* names, ``--descriptors names`` (the name prompts alone, the earlier behaviour);
* ``name: description``, ``--descriptors names`` (the name and the user's text, no WordNet);
* ``name: description``, default options (the user's text on top of the WordNet knowledge).

The descriptions are public visual descriptions written for other zero-shot work (``descriptions/`` of the
data folder): the CUB species' short descriptors of "classify by description" ("a seabird", "black and
white", "a long, hooked bill", one line each) and the Oxford flowers' CuPL sentences (20 per class), matched
to the class names loosely (case, hyphens, underscores, apostrophes). The test the product must pass: a
user who writes them never gets a worse head than one who writes nothing.
Species the model already has by name are skipped (``--allow-existing``) with their photos. Scores use
the rows and the offset the CLI wrote: ZSL top-1 among the new classes; S / U / H over
1000 + K classes with the ImageNet sample photos as the seen side.

    python -m benchmarks.descriptions [--data DIR] [--json OUT]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.block import block_main
from benchmarks.imagenet21k import head, photo_sets
from benchmarks.heldout import imagenet_features
from inject import assets, save_model
from inject.metrics import gzsl, paired_bootstrap, zsl_top1

RUNS = {  # label -> (class file with descriptions?, extra CLI options)
    "names (default)": (False, []),
    "names, --descriptors names": (False, ["--descriptors", "names"]),
    "name: description, --descriptors names": (True, ["--descriptors", "names"]),
    "name: description (default)": (True, []),
}


DESCRIPTION_FILES = {"CUB-50": "cub200_classify_by_description.json", "Flowers-102": "flowers102_cupl.json"}


def loose(name: str) -> str:
    """How description keys match class names: case, hyphens, underscores and apostrophes ignored."""
    return " ".join(name.replace("-", " ").replace("_", " ").replace("'", "").split()).casefold()


def public_descriptions(data: Path, dataset: str, names: list[str]) -> dict[str, list[str]]:
    """Class name -> its lines in the data folder's public descriptions (classes without any are left out)."""
    table = {loose(key): texts for key, texts in json.loads((data / "descriptions" / DESCRIPTION_FILES[dataset]).read_text()).items()}
    return {name: [" ".join(t.split()) for t in table[loose(name)] if t.strip()] for name in names if loose(name) in table}


def class_file(path: Path, names: list[str], descriptions: dict[str, list[str]] | None) -> Path:
    """Write one line per class, ``name``, or one ``name: description`` line per description of it."""
    described = descriptions or {}
    lines = [line for n in names for line in ([f"{n}: {text}" for text in described[n]] if n in described else [n])]
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
    is_new = labels >= 1000
    right = unseen[logits[is_new][:, unseen].argmax(1)] == labels[is_new]
    per_class = [float(right[labels[is_new] == row].float().mean()) for row in unseen.tolist()]
    return {"zsl": zsl_top1(logits, labels, unseen), "S": result.seen, "U": result.unseen, "H": result.harmonic,
            "per_class": per_class}


GAINS = {  # what descriptions add, with and without WordNet: (with descriptions, without)
    "default": ("name: description (default)", "names (default)"),
    "--descriptors names": ("name: description, --descriptors names", "names, --descriptors names"),
}


def gains(found: dict) -> dict[str, tuple[float, float, float]]:
    """Per option: the mean per-class ZSL gain from the descriptions and its 95% paired bootstrap interval."""
    return {option: paired_bootstrap(torch.tensor(found[ours]["per_class"]), torch.tensor(found[other]["per_class"]))
            for option, (ours, other) in GAINS.items()}


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
            descriptions = public_descriptions(data, dataset, names)
            files = {False: class_file(work / "names.txt", names, None),
                     True: class_file(work / "described.txt", names, descriptions)}
            found = {"classes": len(names), "described": len(descriptions),
                     "example": next(f"{n}: {d[0]}" for n, d in descriptions.items())}
            for label, (described, options) in RUNS.items():
                output = work / "out.safetensors"
                inject_cli(model_path, files[described], options, output, env)
                found[label] = scores(output, (seen_features, seen_labels), (features, labels), names)
                print(f"  {dataset:11} {label:40} " + " ".join(f"{k} {found[label][k]:.3f}" for k in ("zsl", "S", "U", "H")), flush=True)
            injected = set(head(output)[0][1000:])
            found["already_in_model"] = [n for n in names if n not in injected]  # what --allow-existing skipped
            found["gains"] = gains(found)
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
        lines += ["", "ZSL gain from the descriptions, per-class mean and 95% paired bootstrap interval over classes: "
                  + "; ".join(f"{option}: {mean:+.3f} [{low:+.3f}, {high:+.3f}]"
                              for option, (mean, low, high) in found["gains"].items()), ""]
    return "\n".join(lines).rstrip()


def main() -> None:
    block_main(__doc__.split("\n\n")[0], run, tables)


if __name__ == "__main__":
    main()
