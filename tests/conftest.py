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
