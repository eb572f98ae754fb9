"""Regenerate the table of docs/reliability.md: every bad input, and what ``inject-classes`` prints for it.

Builds a small model and one broken input per row in a scratch folder, runs the real CLI on each
(``python -m inject.cli``, one process per row, from inside that folder so paths stay short) and
prints a Markdown table of the exit code and stderr.

    python scripts/reliability_table.py > table.md

tests/test_reliability.py runs the same cases in-process and checks that each message is in the doc.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

# (what is wrong, CLI arguments): run inside the folder that ``make_inputs`` fills.
CASES: list[tuple[str, list[str]]] = [
    ("model file missing", ["missing.safetensors", "--classes", "new.txt"]),
    ("model path is a folder", ["folder", "--classes", "new.txt"]),
    ("safetensors file truncated (first half of a real file)", ["truncated.safetensors", "--classes", "new.txt"]),
    ("safetensors file truncated to 5 bytes", ["stub.safetensors", "--classes", "new.txt"]),
    ("text file named .safetensors", ["text.safetensors", "--classes", "new.txt"]),
    (".pth pickle that would run code", ["code.pth", "--classes", "new.txt"]),
    (".pth with non-tensor entries", ["mixed.pth", "--classes", "new.txt"]),
    (".bin that is a plain pickle", ["plain.bin", "--classes", "new.txt"]),
    ("no classifier among the tensors", ["nohead.safetensors", "--classes", "new.txt"]),
    ("several classifier candidates", ["twoheads.safetensors", "--classes", "new.txt"]),
    ("--head-key names no tensor", ["model.safetensors", "--classes", "new.txt", "--head-key", "nope"]),
    ("--head-key names a non-linear layer", ["twoheads.safetensors", "--classes", "new.txt", "--head-key", "norm"]),
    ("head bias does not fit its weight", ["badbias.safetensors", "--classes", "new.txt"]),
    ("NaN in the head", ["nan.safetensors", "--classes", "new.txt"]),
    ("metadata label_names is not JSON", ["badlabels.safetensors", "--classes", "new.txt"]),
    ("metadata label_names has the wrong length", ["shortlabels.safetensors", "--classes", "new.txt"]),
    ("no label names and no --seen-names", ["bare.safetensors", "--classes", "new.txt"]),
    ("--seen-names has the wrong length", ["bare.safetensors", "--classes", "new.txt", "--seen-names", "seen3.txt"]),
    ("--seen-names file missing", ["bare.safetensors", "--classes", "new.txt", "--seen-names", "nope.txt"]),
    ("class file missing", ["model.safetensors", "--classes", "missing.txt"]),
    ("class file is a folder", ["model.safetensors", "--classes", "folder"]),
    ("class file empty", ["model.safetensors", "--classes", "empty.txt"]),
    ("class file has only blank lines", ["model.safetensors", "--classes", "blank.txt"]),
    ("class file not UTF-8 (Latin-1)", ["model.safetensors", "--classes", "latin1.txt"]),
    ("duplicate new names (case-insensitive)", ["model.safetensors", "--classes", "duplicates.txt"]),
    ("new names already classes of the model", ["model.safetensors", "--classes", "seen.txt"]),
    ("--allow-existing, but every name is already a class",
     ["model.safetensors", "--classes", "allseen.txt", "--allow-existing"]),
    ("output = input without --force", ["model.safetensors", "--classes", "new.txt", "-o", "model.safetensors"]),
    ("output folder missing", ["model.safetensors", "--classes", "new.txt", "-o", "nodir/out.safetensors"]),
    ("output is a folder", ["model.safetensors", "--classes", "new.txt", "-o", "folder"]),
    ("output not .safetensors", ["model.safetensors", "--classes", "new.txt", "-o", "out.pth"]),
    ("--gamma nan", ["model.safetensors", "--classes", "new.txt", "--gamma", "nan"]),
    ("--gamma not a number", ["model.safetensors", "--classes", "new.txt", "--gamma", "abc"]),
    ("--classes left out", ["model.safetensors"]),
    ("--encoder not available offline", ["model.safetensors", "--classes", "new.txt", "--encoder", "no-such-encoder"]),
    ("--encoder folder is not a model", ["model.safetensors", "--classes", "new.txt", "--encoder", "folder"]),
    ("model folder without weights", ["noweights", "--classes", "new.txt"]),
    ("timm folder: num_classes disagrees with the head", ["timm-wrongcount", "--classes", "new.txt"]),
    ("transformers folder: id2label disagrees with the head", ["vit-wrongcount", "--classes", "new.txt"]),
    ("unknown model_type", ["unknowntype", "--classes", "new.txt"]),
    ("read-only output folder", ["timm", "--classes", "new.txt", "-o", "readonly/out"]),
    ("output folder = input folder without --force", ["timm", "--classes", "new.txt", "-o", "timm"]),
    ("Hub id not in the local cache (offline)", ["someone/no-such-model", "--classes", "new.txt"]),
    ("--unlabelled-images folder holds no photo", ["timm", "--classes", "new.txt", "--seen-names", "seen10.txt",
                                                   "--unlabelled-images", "folder"]),
    ("--unlabelled-images holds an unreadable photo", ["timm", "--classes", "new.txt", "--seen-names", "seen10.txt",
                                                       "--unlabelled-images", "badpile"]),
    ("--unlabelled-images with --gamma", ["timm", "--classes", "new.txt", "--unlabelled-images", "pile", "--gamma", "1"]),
]


class RunsCode:
    """Pickles as a call to ``os.mkdir('code-ran')``: proof, if the folder appears, that code was unpickled."""

    def __reduce__(self):
        return os.mkdir, ("code-ran",)


def make_folders(folder: Path) -> None:
    """A timm folder and a transformers folder (10 classes, random weights) and broken copies of them."""
    import json
    import shutil

    import timm
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    timm.models.save_for_hf(timm.create_model("resnet10t", num_classes=10), folder / "timm", safe_serialization=True)
    ViTForImageClassification(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                                        image_size=32, patch_size=8, num_labels=10)).save_pretrained(folder / "vit")
    edits = {"timm-wrongcount": ("timm", {"num_classes": 12}),
             "vit-wrongcount": ("vit", {"id2label": {str(i): f"c{i}" for i in range(12)}, "label2id": {}}),
             "unknowntype": ("vit", {"model_type": "bert"})}
    for name, (base, edit) in edits.items():
        shutil.copytree(folder / base, folder / name)
        config = json.loads((folder / name / "config.json").read_text())
        (folder / name / "config.json").write_text(json.dumps({**config, **edit}))
    (folder / "noweights").mkdir()
    shutil.copy(folder / "timm" / "config.json", folder / "noweights" / "config.json")
    (folder / "readonly").mkdir(mode=0o555)
    make_piles(folder)


def make_piles(folder: Path) -> None:
    """Unsorted-photo folders: ``pile`` (two readable photos) and ``badpile`` (one of them not an image)."""
    from PIL import Image

    for name in ("pile", "badpile"):
        (folder / name).mkdir()
        Image.new("RGB", (40, 40), (120, 80, 40)).save(folder / name / "a.png")
    Image.new("RGB", (40, 40), (20, 90, 160)).save(folder / "pile" / "b.png")
    (folder / "badpile" / "b.jpg").write_text("not a photo\n")


def make_inputs(folder: Path) -> None:
    """Write a 10-class model, model folders and every broken input of ``CASES`` into ``folder``."""
    from inject.checkpoint import write_safetensors

    g = torch.Generator().manual_seed(0)
    state = {"features.weight": torch.randn(16, 8, generator=g), "norm.weight": torch.ones(16),
             "fc.weight": torch.randn(10, 16, generator=g), "fc.bias": torch.randn(10, generator=g)}
    labels = '["' + '", "'.join(f"class {i}" for i in range(10)) + '"]'
    write_safetensors(folder / "model.safetensors", state, {"label_names": labels})
    write_safetensors(folder / "bare.safetensors", state, {})
    whole = (folder / "model.safetensors").read_bytes()
    (folder / "truncated.safetensors").write_bytes(whole[: len(whole) // 2])
    (folder / "stub.safetensors").write_bytes(whole[:5])
    (folder / "text.safetensors").write_text("not a model\n")
    torch.save({**state, "hook": RunsCode()}, folder / "code.pth")
    torch.save({**state, "epoch": 3}, folder / "mixed.pth")
    (folder / "plain.bin").write_bytes(pickle.dumps({"fc.weight": [[1.0]]}, protocol=4))
    write_safetensors(folder / "nohead.safetensors", {"features.weight": state["features.weight"]}, {})
    write_safetensors(folder / "twoheads.safetensors", {**state, "head.weight": torch.randn(5, 16, generator=g)}, {})
    write_safetensors(folder / "badbias.safetensors", {**state, "fc.bias": torch.zeros(7)}, {"label_names": labels})
    nan = state["fc.weight"].clone()
    nan[3, 4] = float("nan")
    write_safetensors(folder / "nan.safetensors", {**state, "fc.weight": nan}, {"label_names": labels})
    write_safetensors(folder / "badlabels.safetensors", state, {"label_names": "[class 0, class 1"})
    write_safetensors(folder / "shortlabels.safetensors", state, {"label_names": '["a", "b"]'})
    (folder / "folder").mkdir()
    texts = {"new.txt": "okapi\npangolin\n", "seen3.txt": "a\nb\nc\n", "seen10.txt": "".join(f"class {i}\n" for i in range(10)),
             "empty.txt": "", "blank.txt": "\n  \n\t\n",
             "duplicates.txt": "okapi\nOkapi \n", "seen.txt": "okapi\nclass 3\n", "allseen.txt": "class 3\nCLASS 4\n"}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "latin1.txt").write_bytes("okapi\ncaf\u00e9 cr\u00e8me\n".encode("latin-1"))
    make_folders(folder)


def hub_env(folder: Path) -> dict[str, str]:
    """huggingface_hub offline, with an empty cache in the scratch folder: a Hub id resolves to nothing."""
    return {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(folder / "hf-cache")}


def shown(stderr: str, folder: Path) -> str:
    """``stderr`` as the table shows it: the scratch folder's path removed, lines joined with ``<br>``."""
    lines = [line.replace(f"{folder.resolve()}{os.sep}", "") for line in stderr.strip().splitlines()]
    return "<br>".join(lines)


def table_row(case: str, args: list[str], code: int, message: str) -> str:
    """One Markdown row: what is wrong, the command, exit code, what the user sees."""
    command = " ".join(["inject-classes", *args])
    return f"| {case} | `{command}` | {code} | `{message}` |"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        make_inputs(folder)
        print("| Bad input | Command | Exit | stderr (stdout is empty) |")
        print("|---|---|---|---|")
        for case, args in CASES:
            result = subprocess.run([sys.executable, "-m", "inject.cli", *args], cwd=folder,
                                    capture_output=True, text=True, env={**os.environ, **hub_env(folder)})
            assert not result.stdout and not (folder / "code-ran").exists(), (case, result.stdout)
            print(table_row(case, args, result.returncode, shown(result.stderr, folder)), flush=True)


if __name__ == "__main__":
    main()
