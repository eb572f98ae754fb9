import os
from pathlib import Path

import pytest

from inject.assets import data_dir
from inject.errors import InjectError


@pytest.fixture(scope="session")
def data() -> Path:
    """The real evaluation data (INJECT_DATA or ../shared/data); CI must have it."""
    try:
        return data_dir()
    except InjectError as error:
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(str(error))


@pytest.fixture(autouse=True, scope="session")
def _private_embedding_cache(tmp_path_factory):
    """Tests never read or write the user's embedding cache."""
    os.environ["INJECT_CACHE_DIR"] = str(tmp_path_factory.mktemp("embedding-cache"))


@pytest.fixture(scope="session")
def real_encoder():
    """The packaged all-MiniLM-L6-v2, loaded once per session (the real default encoder)."""
    from inject.semantics import resolve_encoder

    encoder = resolve_encoder(None)
    encoder.model  # load now, so tests time their own work
    return encoder


class TrigramEncoder:
    """A deterministic stand-in for a sentence encoder (fast tests): hashed character-trigram counts.

    Names that share spelling get similar vectors, so mappers have something to learn; nothing loads.
    """

    width = 64

    def encode(self, texts, **_: object):
        import hashlib

        import numpy as np

        vectors = np.zeros((len(texts), self.width), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for i in range(len(padded) - 2):
                vectors[row, int(hashlib.md5(padded[i : i + 3].encode()).hexdigest(), 16) % self.width] += 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)


@pytest.fixture
def fake_encoder(monkeypatch):
    """The trigram encoder, also made the pipeline's default (so the CLI uses it too)."""
    from inject import pipeline
    from inject.semantics import TextEncoder

    encoder = TextEncoder("test-trigram-64", TrigramEncoder)
    monkeypatch.setattr(pipeline, "resolve_encoder", lambda spec: encoder)
    return encoder
