"""A sentence-transformers folder of the plain kind (Transformer -> mean Pooling -> Normalize), run with transformers alone.

Importing sentence-transformers takes 10-15 s on a 2-core machine, longer than a whole injection once
the seen classes' embeddings ship with the package. Folders like the packaged all-MiniLM-L6-v2 are a
Hugging Face encoder whose token states are mean-pooled over the attention mask and L2-normalised:
that is ten lines of transformers code, run here with the folder's own tokenizer, maximum sequence
length and weights. Any other folder goes to ``SentenceTransformer`` as before.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

PLAIN_MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                 "sentence_transformers.models.Normalize"]


def is_plain_mean_pooling(folder: str | Path) -> bool:
    """Whether ``folder`` is a Transformer -> mean-token Pooling -> Normalize sentence-transformers model."""
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError):
        return False
    modes = {key: value for key, value in pooling.items() if key.startswith("pooling_mode")}
    only_mean = modes.get("pooling_mode_mean_tokens") is True and sum(bool(v) for v in modes.values()) == 1
    return [m.get("type") for m in modules] == PLAIN_MODULES and modules[0].get("path") == "" and only_mean


class MeanPoolingEncoder:
    """``encode`` like ``SentenceTransformer.encode`` for a plain mean-pooling folder (see module docstring)."""

    def __init__(self, folder: str | Path, device: str = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder)
        config = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_length = int(config.get("max_seq_length", 512))
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).to(device).eval()
        self.device = device

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int = 64, normalize_embeddings: bool = True,
               **_: Any) -> np.ndarray:
        """Embeddings ``[N, E]`` of ``texts`` as float32 numpy (unit rows with ``normalize_embeddings``).

        Texts are batched by length, as sentence-transformers does, so short names are not padded to the
        longest gloss in their batch; the rows come back in the order of ``texts``.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer([texts[i] for i in order[start : start + batch_size]], padding=True,
                                   truncation=True, max_length=self.max_length, return_tensors="pt").to(self.device)
            states = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            parts.append(torch.nn.functional.normalize(pooled, dim=-1) if normalize_embeddings else pooled)
        embeddings = torch.empty(0) if not parts else torch.cat(parts)[torch.tensor(order).argsort()]
        return embeddings.float().cpu().numpy()
