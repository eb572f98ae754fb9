"""The packaged encoder runs without sentence-transformers and gives its embeddings exactly."""
import json

import numpy as np
import pytest

from inject.assets import default_encoder_path
from inject.text_model import MeanPoolingEncoder, is_plain_mean_pooling

TEXTS = ["okapi", "a photo of a Crested Auklet.", "auklet: any of several small auks of the northern Pacific coasts " * 4]


def test_only_plain_mean_pooling_folders_take_the_light_path(tmp_path):
    assert is_plain_mean_pooling(default_encoder_path())
    (tmp_path / "1_Pooling").mkdir()
    modules = json.loads((default_encoder_path() / "modules.json").read_text())
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True,
                                                                    "pooling_mode_mean_tokens": False}))
    assert not is_plain_mean_pooling(tmp_path)  # CLS pooling: sentence-transformers runs it
    assert not is_plain_mean_pooling(tmp_path / "missing")


@pytest.mark.slow
@pytest.mark.real
def test_the_light_encoder_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    light = MeanPoolingEncoder(default_encoder_path()).encode(TEXTS, batch_size=2)
    reference = SentenceTransformer(str(default_encoder_path()), device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert light.shape == (3, 384) and light.dtype == np.float32
    np.testing.assert_allclose(light, reference, atol=1e-5)
