"""The packaged encoder runs without sentence-transformers and gives its embeddings exactly."""
import json

import numpy as np
import pytest

from inject.assets import default_encoder_path
from inject.text_model import MeanPoolingEncoder, is_plain_mean_pooling

TEXTS = ["okapi", "a photo of a Crested Auklet.", "auklet: any of several small auks of the northern Pacific coasts " * 4]


def _pooling_folder(root, **modes):
    """A sentence-transformers folder layout (Transformer -> Pooling -> Normalize) with pooling ``modes``."""
    (root / "1_Pooling").mkdir(parents=True)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling" / "config.json").write_text(json.dumps(modes))
    return root


def test_only_plain_mean_pooling_folders_take_the_light_path(tmp_path):
    assert is_plain_mean_pooling(_pooling_folder(tmp_path / "mean", pooling_mode_mean_tokens=True, pooling_mode_cls_token=False))
    cls = _pooling_folder(tmp_path / "cls", pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    assert not is_plain_mean_pooling(cls)  # CLS pooling: sentence-transformers runs it
    both = _pooling_folder(tmp_path / "both", pooling_mode_mean_tokens=True, pooling_mode_max_tokens=True)
    assert not is_plain_mean_pooling(both)
    assert not is_plain_mean_pooling(tmp_path / "missing")


@pytest.mark.real
def test_the_default_encoder_is_plain_mean_pooling():
    assert is_plain_mean_pooling(default_encoder_path())


@pytest.mark.slow
@pytest.mark.real
def test_the_light_encoder_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    light = MeanPoolingEncoder(default_encoder_path()).encode(TEXTS, batch_size=2)
    reference = SentenceTransformer(str(default_encoder_path()), device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert light.shape == (3, 384) and light.dtype == np.float32
    np.testing.assert_allclose(light, reference, atol=1e-5)
