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


def pytest_configure(config):
    """Torch runs the tests on one thread unless INJECT_TEST_THREADS says otherwise (0: torch's default).

    The tests run many tiny ops; on a shared 2-core machine every op of a 2-thread pool waits for a
    descheduled worker, which made the fast lane 10-20x slower. CI sets 0, so the bit-exact checks
    also run on torch's multi-threaded kernels.
    """
    import torch

    threads = int(os.environ.get("INJECT_TEST_THREADS", "1"))
    if threads > 0:
        torch.set_num_threads(threads)


def pytest_collection_modifyitems(items):
    """Loading the real encoder or real assets takes seconds: such tests are never in the fast lane
    (``-m "not slow"``), even where a test module forgets the mark."""
    for item in items:
        if "real_encoder" in getattr(item, "fixturenames", ()) or item.get_closest_marker("real"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def demo_model():
    """The real ImageNet-1K EfficientNet-Lite0 (the embedded default), loaded once per session."""
    from inject.assets import load_demo_model

    return load_demo_model()


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
