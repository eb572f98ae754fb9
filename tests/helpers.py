"""Small builders the test modules share: a labelled random-weight timm model and folders of noise photos."""
from pathlib import Path
from typing import Sequence

import numpy as np
import timm
import torch
from PIL import Image

SEEN = [f"class {i}" for i in range(10)]
EVERYDAY = ["tabby cat", "golden retriever", "zebra", "goldfinch", "daisy", "sports car", "teapot", "lighthouse"]  # WordNet knows them


def small_model(name: str = "resnet18", labels: Sequence[str] = SEEN) -> torch.nn.Module:
    """``name`` with random weights (seed 0), in eval mode, one head row per label, carrying ``labels``."""
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=len(labels)).eval()
    model.pretrained_cfg = {**model.pretrained_cfg, "label_names": list(labels)}
    return model


def noise_folders(root: Path, names: Sequence[str], per_class: int, size: int = 64) -> Path:
    """``per_class`` noise photos (``size`` px, one seed-0 generator in order) in a subfolder per name; ``root``."""
    rng = np.random.default_rng(0)
    for name in names:
        (root / name).mkdir()
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root
