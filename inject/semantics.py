"""Class descriptors: what each class means, as one L2-normalised vector per class.

Names are encoded by a sentence encoder with a small prompt-template ensemble (as open_clip builds
zero-shot classifiers); precomputed vectors (attributes, word vectors) are taken as they are.
Text embeddings are cached on disk, keyed by encoder and text, so a repeated run encodes nothing
and does not even import sentence-transformers.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .errors import InjectError
from .packed import packed_vectors

ENCODE_CHUNK = 256  # texts per encoder call: the progress bar's step

TEMPLATES = (
    "{}",
    "a photo of a {}.",
    "a close-up photo of the {}.",
    "a photo of a small {}.",
    "a photo of a large {}.",
)


PACKAGED_DIR = Path(__file__).parent / "data"  # embeddings shipped with the package (scripts/build_text_embeddings.py)


def cache_dir() -> Path:
    """Where text embeddings are cached: ``$INJECT_CACHE_DIR`` or ``~/.cache/inject-classes``."""
    return Path(os.environ.get("INJECT_CACHE_DIR", Path.home() / ".cache" / "inject-classes"))


@dataclass
class TextEncoder:
    """A sentence encoder loaded on first use.

    Attributes:
        name: identity of the encoder, recorded in outputs and used as the cache key.
        load: returns the ``SentenceTransformer`` (called at most once).
    """

    name: str
    load: Callable[[], Any]
    _model: Any = field(default=None, repr=False)

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self.load()
        return self._model

    def encode(self, texts: Sequence[str], progress: bool = False, label: str | None = None) -> torch.Tensor:
        """Unit-norm embeddings ``[N, E]`` of ``texts``.

        With ``progress``, one bar labelled ``label`` (default "encoding N texts") counts the texts; the
        encoder's own bars (loading and batches) never show.
        """
        from .assets import no_hf_progress_bars

        texts = list(texts)
        parts = []
        with no_hf_progress_bars():
            model = self.model  # loaded before the bar opens: a load failure prints only its error
            bar = tqdm(total=len(texts), desc=label or f"encoding {len(texts)} texts", unit="text", disable=not progress)
            for start in range(0, len(texts), ENCODE_CHUNK):
                chunk = texts[start : start + ENCODE_CHUNK]
                parts.append(model.encode(chunk, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                                          show_progress_bar=False))
                bar.update(len(chunk))
            bar.close()
        return torch.from_numpy(np.ascontiguousarray(np.concatenate(parts), dtype=np.float32))


def resolve_encoder(encoder: "str | TextEncoder | Any | None") -> TextEncoder:
    """Turn ``None`` (packaged all-MiniLM-L6-v2), a name/path, or a ``SentenceTransformer`` into a ``TextEncoder``."""
    from . import assets

    if isinstance(encoder, TextEncoder):
        return encoder
    if encoder is None:
        return TextEncoder(assets.DEFAULT_ENCODER_NAME, assets.default_encoder)
    if isinstance(encoder, (str, os.PathLike)):
        spec = str(Path(encoder).resolve()) if Path(encoder).exists() else str(encoder)
        return TextEncoder(spec, lambda: assets.load_sentence_encoder(spec))
    if hasattr(encoder, "encode"):
        name = getattr(getattr(encoder, "model_card_data", None), "base_model", None) or type(encoder).__name__
        return TextEncoder(f"{name}@{id(encoder):x}", lambda: encoder)
    raise InjectError(f"encoder must be a name, a path or a SentenceTransformer, not {type(encoder).__name__}")


def packaged_path(encoder_name: str) -> Path:
    """Where the package keeps embeddings for ``encoder_name`` (only the default encoder has a file)."""
    return PACKAGED_DIR / f"text-embeddings-{re.sub(r'[^A-Za-z0-9.-]+', '_', encoder_name)}.safetensors"


@lru_cache(maxsize=4)
def packaged_embeddings(encoder_name: str) -> dict[str, torch.Tensor]:
    """Text -> ``[E]`` float32 embedding shipped with the package for ``encoder_name`` (``{}`` if none).

    The package ships the default encoder's embeddings of every text the default path encodes for the
    ImageNet-1K classes, so a first run encodes only the new names. ``INJECT_NO_PACKAGED_EMBEDDINGS=1``
    ignores them (the build script does, to encode afresh).
    """
    path = packaged_path(encoder_name)
    if os.environ.get("INJECT_NO_PACKAGED_EMBEDDINGS") == "1" or not path.is_file():
        return {}
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        if f.metadata().get("encoder") != encoder_name:
            return {}
        texts, vectors = json.loads(f.metadata()["texts"]), f.get_tensor("embeddings").float()
    return dict(zip(texts, vectors))


class EmbeddingCache:
    """Text -> embedding store for one encoder: the package's embeddings, then a safetensors file under ``cache_dir()``."""

    def __init__(self, encoder_name: str, root: Path | None = None) -> None:
        digest = hashlib.sha256(encoder_name.encode()).hexdigest()[:16]
        self.path = (root or cache_dir()) / f"text-embeddings-{digest}.safetensors"
        self.encoder_name = encoder_name
        self._texts: list[str] = []
        self._vectors = torch.empty(0)
        if self.path.is_file():
            self._read()

    def _read(self) -> None:
        from safetensors import safe_open

        try:
            with safe_open(str(self.path), "pt") as f:
                texts = json.loads(f.metadata()["texts"])
                vectors = f.get_tensor("embeddings")
        except Exception:  # a damaged cache is rebuilt, never trusted
            return
        if len(texts) == vectors.shape[0]:
            self._texts, self._vectors = texts, vectors

    def lookup(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """The embeddings of those ``texts`` that are known (shipped, cached, or packed synset glosses)."""
        shipped = packaged_embeddings(self.encoder_name)
        index = {t: i for i, t in enumerate(self._texts)}
        found = {t: shipped[t] if t in shipped else self._vectors[index[t]] for t in texts if t in shipped or t in index}
        rest = [t for t in texts if t not in found]
        return {**found, **packed_vectors(self.encoder_name, "text", rest)} if rest else found

    def add(self, texts: Sequence[str], vectors: torch.Tensor) -> None:
        from .checkpoint import write_safetensors

        self._vectors = torch.cat([self._vectors, vectors]) if self._texts else vectors
        self._texts = self._texts + list(texts)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_safetensors(
                self.path, {"embeddings": self._vectors.contiguous()},
                {"encoder": self.encoder_name, "texts": json.dumps(self._texts)},
            )
        except OSError as error:  # a read-only or full cache folder only costs speed
            reason = error.strerror or error
            warnings.warn(f"embedding cache '{self.path}' not written ({reason}); set INJECT_CACHE_DIR", stacklevel=2)


def encode_texts(
    texts: Sequence[str], encoder: TextEncoder, progress: bool = False, cache: bool = True,
    label: Callable[[list[str]], str] | None = None,
) -> torch.Tensor:
    """Unit-norm embeddings ``[N, E]`` of ``texts``; only texts missing from the cache are encoded.

    ``label`` names the progress bar from the texts that need encoding (default "encoding N texts").
    """
    store = EmbeddingCache(encoder.name) if cache else None
    known = store.lookup(texts) if store else {}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        fresh = encoder.encode(missing, progress=progress, label=label(missing) if label else None)
        known.update(zip(missing, fresh))
        if store:
            store.add(missing, fresh)
    return torch.stack([known[t] for t in texts])


def encode_names(
    names: Sequence[str],
    encoder: "str | TextEncoder | Any | None" = None,
    templates: Sequence[str] = TEMPLATES,
    progress: bool = False,
    cache: bool = True,
) -> torch.Tensor:
    """Descriptors ``[N, E]`` of class ``names``: mean of the template embeddings, re-normalised.

    Names whose ensemble the package holds (every ImageNet-21K synset name, ``inject.packed``)
    are looked up whole; only the others are encoded (or found per template text in the cache).
    """
    text_encoder = resolve_encoder(encoder)
    shipped = packaged_embeddings(text_encoder.name)  # the ImageNet-1K texts: used as before, per template
    unshipped = [n for n in names if any(t.format(n) not in shipped for t in templates)]
    packed = packed_vectors(text_encoder.name, "name", unshipped, templates) if cache else {}
    rest = list(dict.fromkeys(n for n in names if n not in packed))
    if not rest:
        return torch.stack([packed[n] for n in names]) if names else torch.empty(0)
    encoded = dict(zip(rest, _encode_ensembles(rest, text_encoder, templates, progress, cache)))
    return torch.stack([packed[n] if n in packed else encoded[n] for n in names])


def _encode_ensembles(
    names: Sequence[str], text_encoder: TextEncoder, templates: Sequence[str], progress: bool, cache: bool
) -> torch.Tensor:
    """``[N, E]``: the mean of each name's template embeddings, re-normalised (via ``encode_texts``)."""
    texts = [template.format(name) for name in names for template in templates]
    name_of = dict(zip(texts, (name for name in names for _ in templates)))

    def label(missing: list[str]) -> str:
        count = len({name_of[text] for text in missing})
        return f"encoding {count} name{'s' if count != 1 else ''}"

    vectors = encode_texts(texts, text_encoder, progress=progress, cache=cache, label=label)
    return F.normalize(vectors.reshape(len(names), len(templates), -1).mean(1), dim=-1)


def as_descriptors(values: Any, what: str = "descriptors") -> torch.Tensor:
    """Unit-norm float32 descriptors ``[N, E]`` from an array-like of precomputed class vectors."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().float()  # numpy has no bfloat16
    try:
        tensor = torch.as_tensor(np.asarray(values, dtype=np.float32))
    except (TypeError, ValueError) as error:
        raise InjectError(f"{what} must be a numeric 2-D array [classes, features] ({error})") from error
    if tensor.ndim != 2 or tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise InjectError(f"{what} must be a non-empty 2-D array [classes, features], got shape {list(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise InjectError(f"{what} contain NaN or infinite values; clean the array first")
    if (tensor.norm(dim=1) == 0).any():
        raise InjectError(f"{what} contain all-zero rows; every class needs a non-zero vector")
    return F.normalize(tensor, dim=-1)


def combine_descriptors(*sources: torch.Tensor) -> torch.Tensor:
    """One descriptor per class from several sources ``[N, E_i]`` (same class order): ``[N, sum E_i]``.

    Each source is L2-normalised, the parts are concatenated and the result re-normalised, so the
    cosine between two combined descriptors is the mean of their per-source cosines: no source
    dominates by its width or scale.
    """
    if not sources:
        raise InjectError("combine_descriptors needs at least one descriptor array")
    parts = [as_descriptors(source, f"descriptor source {i}") for i, source in enumerate(sources)]
    if len({part.shape[0] for part in parts}) != 1:
        counts = ", ".join(str(part.shape[0]) for part in parts)
        raise InjectError(f"descriptor sources have different class counts ({counts}); give one row per class in each")
    return F.normalize(torch.cat(parts, dim=1), dim=-1)

