"""Compact package data: the default encoder's embeddings of every ImageNet-21K synset's name and gloss.

What the default knowledge path encodes for a synset line (``n02510455`` or ``giant panda (n02510455)``)
is its name's prompt-template ensemble (``inject.semantics.encode_names``) and its gloss text
(``describe.gloss_text``). Storing every template text of 21,843 synsets as the ImageNet-1K file does
(float16 per text) would take about 100 MB; this file keeps, per synset:

* ``name``: the template-ensemble vector itself (mean of the template embeddings, re-normalised), keyed
  by the name, valid for the templates recorded in the metadata only;
* ``text``: the gloss text's embedding, keyed by the text.

Rows are int8 with one float32 scale each (``row = int8 * scale``, ``scale = max |x| / 127``): about
17 MB for 21,843 synsets x 2 x 384, and every looked-up vector is within cosine 0.9999 of a fresh one
(``tests/test_imagenet21k.py``). Keys are 64-bit BLAKE2b hashes of ``kind`` + text, sorted for
``searchsorted``. Built by ``scripts/build_synset_embeddings.py``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("name", "text")


def packed_path(encoder_name: str) -> Path:
    """Where the package keeps the synset embeddings of ``encoder_name`` (only the default encoder has one)."""
    return DATA / f"synset-embeddings-{re.sub(r'[^A-Za-z0-9.-]+', '_', encoder_name)}.safetensors"


def text_key(kind: str, text: str) -> int:
    """Signed 64-bit key of ``text`` as a ``kind`` (``name`` or ``text``) entry."""
    digest = hashlib.blake2b(f"{kind}\x00{text}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def quantize(vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 ``[M, E]``, float32 scales ``[M]``) with ``vectors ~= int8 * scale[:, None]``."""
    scales = vectors.abs().amax(1).clamp_min(1e-12) / 127
    return (vectors / scales[:, None]).round().clamp(-127, 127).to(torch.int8), scales.float()


class PackedEmbeddings:
    """Sorted keys ``[M]`` (int64), int8 rows ``[M, E]`` and their scales ``[M]``."""

    def __init__(self, keys: torch.Tensor, rows: torch.Tensor, scales: torch.Tensor, templates: list[str]) -> None:
        order = keys.argsort()
        self.keys, self.rows, self.scales, self.templates = keys[order], rows[order], scales[order], templates

    def find(self, kind: str, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Unit float32 ``[E]`` vectors of the ``texts`` (as ``kind``) that the file holds."""
        if not texts or len(self.keys) == 0:
            return {}
        wanted = torch.tensor([text_key(kind, t) for t in texts], dtype=torch.int64)
        where = torch.searchsorted(self.keys, wanted).clamp_max(len(self.keys) - 1)
        hit = self.keys[where] == wanted
        rows = F.normalize(self.rows[where[hit]].float() * self.scales[where[hit], None], dim=1)
        return dict(zip([t for t, h in zip(texts, hit.tolist()) if h], rows))


@lru_cache(maxsize=2)
def load_packed(encoder_name: str) -> PackedEmbeddings | None:
    """The package's synset embeddings for ``encoder_name``; ``None`` without a file (or with
    ``INJECT_NO_PACKAGED_EMBEDDINGS=1``, as the build scripts set)."""
    path = packed_path(encoder_name)
    if os.environ.get("INJECT_NO_PACKAGED_EMBEDDINGS") == "1" or not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        if meta.get("encoder") != encoder_name:
            return None
        tensors = [f.get_tensor(name) for name in ("keys", "rows", "scales")]
    return PackedEmbeddings(*tensors, json.loads(meta["templates"]))


def packed_vectors(encoder_name: str, kind: str, texts: Sequence[str], templates: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """Packaged vectors of ``texts``: ``kind="text"`` embeddings, or ``kind="name"`` ensembles over ``templates``
    (none unless ``templates`` are the ones the file was built with)."""
    packed = load_packed(encoder_name)
    if packed is None or (kind == "name" and list(templates) != packed.templates):
        return {}
    return packed.find(kind, list(dict.fromkeys(texts)))
