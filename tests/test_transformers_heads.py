"""Head discovery and injection for Hugging Face transformers image classifiers (random weights, built offline).

Fast lane: ViT, DeiT with teacher, LeViT with teacher (BatchNorm1d + Linear branches), ResNet
(``Sequential(Flatten, Linear)``) and the timm wrapper, from the coverage sweep's small configs
(``benchmarks/sweep/transformers_configs.py``, 1000 named classes). Slow: every class of the installed
mapping through the sweep's checks (``benchmarks.sweep.transformers_checks.check_class``).
"""
import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

import inject
from benchmarks.sweep import transformers_checks as sweep
from benchmarks.sweep.transformers_configs import SEEN_CLASSES, side, small_processor
from inject.adapters import HeadError, extend_head, find_head
from inject.adapters.features import head_inputs

transformers = pytest.importorskip("transformers")

FAST = {
    "ViTForImageClassification": ["classifier"],
    "DeiTForImageClassificationWithTeacher": ["cls_classifier", "distillation_classifier"],
    "LevitForImageClassificationWithTeacher": ["classifier.linear", "classifier_distill.linear"],
    "ResNetForImageClassification": ["classifier.1"],
    "TimmWrapperForImageClassification": ["timm_model.fc"],
}
DIFFERENT_INPUTS = {"DeiTForImageClassificationWithTeacher"}  # its branches read the class and distillation tokens
K = 3


def pixels(name: str, batch: int = 2) -> torch.Tensor:
    """A fixed random batch ``[batch, 3, S, S]`` at the small model's input side."""
    size = side(sweep.model_type_of(name))
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(2))


def logits(model, x):
    with torch.no_grad():
        return model(x).logits


def injected(model):
    """``inject.inject`` with random descriptor arrays (the whole pipeline, no sentence encoder; a fixed
    offset, as the calibrations are tested elsewhere and take a second on 1000 classes; the sweep runs them)."""
    generator = torch.Generator().manual_seed(1)
    seen = torch.randn(SEEN_CLASSES, 16, generator=generator)
    return inject.inject(model, torch.randn(K, 16, generator=generator), seen=seen, gamma=0.0)


@pytest.fixture(scope="module", params=list(FAST))
def case(request):
    """(class name, model, extended model, input) once per class."""
    model = sweep.build(request.param)
    return request.param, model, injected(model), pixels(request.param)


def test_head_is_found_whole_and_its_input_reproduces_the_logits(case):
    name, model, _, x = case
    head = find_head(model)
    assert list(head.paths) == FAST[name] and head.num_classes == SEEN_CLASSES
    assert (head.norm is not None) == name.startswith("Levit")
    rebuilt = head_inputs(model, head, x) @ head.weight.T + head.bias
    if name not in DIFFERENT_INPUTS:
        torch.testing.assert_close(rebuilt, logits(model, x), rtol=1e-4, atol=1e-4)


def test_seen_rows_bit_exact_seen_logits_kept_new_logits_from_the_head_input(case):
    name, model, extended, x = case
    head, wide = find_head(model), find_head(extended)
    assert wide.paths == head.paths and wide.num_classes == SEEN_CLASSES + K
    for path in head.paths:
        old, new = model.get_submodule(path), extended.get_submodule(path)
        assert torch.equal(new.weight[:SEEN_CLASSES], old.weight) and torch.equal(new.bias[:SEEN_CLASSES], old.bias)
        assert type(new) is torch.nn.Linear
    before, after = logits(model, x), logits(extended, x)
    assert after.shape == (2, SEEN_CLASSES + K)
    torch.testing.assert_close(after[:, :SEEN_CLASSES], before, rtol=1e-5, atol=1e-5)
    new_rows = head_inputs(extended, wide, x) @ wide.weight[SEEN_CLASSES:].T + wide.bias[SEEN_CLASSES:]
    torch.testing.assert_close(after[:, SEEN_CLASSES:], new_rows, rtol=1e-4, atol=1e-4)  # exact for every head, DeiT's too


def test_labels_and_counts_follow_and_the_input_is_untouched(case):
    name, model, extended, _ = case
    names = inject.labels(extended)
    assert names[:2] == ["seen class 0", "seen class 1"] and names[SEEN_CLASSES:] == ["new_0", "new_1", "new_2"]
    assert extended.config.num_labels == extended.num_labels == SEEN_CLASSES + K
    assert extended.config.label2id["new_2"] == SEEN_CLASSES + 2
    assert model.config.num_labels == SEEN_CLASSES and find_head(model).num_classes == SEEN_CLASSES


def test_save_pretrained_round_trips_through_the_transformers_loader(case, tmp_path):
    name, _, extended, x = case
    extended.save_pretrained(tmp_path)
    reloaded, info = transformers.AutoModelForImageClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    assert type(reloaded).__name__ == name and reloaded.config.id2label == extended.config.id2label
    assert torch.equal(logits(reloaded.eval(), x), logits(extended, x))
    assert find_head(reloaded).num_classes == SEEN_CLASSES + K


def test_pipeline_names_new_classes_by_their_own_names():
    model = injected(sweep.build("ViTForImageClassification"))
    with torch.no_grad():  # make new_1 win on every image
        model.classifier.bias[SEEN_CLASSES + 1] = 1e4
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8))
    classify = transformers.pipeline("image-classification", model=model, device="cpu",
                                     image_processor=small_processor("vit", model))
    answers = classify(photo, top_k=SEEN_CLASSES + K)
    assert answers[0]["label"] == "new_1" and {a["label"] for a in answers} == set(inject.labels(model))


def test_bookkeeping_on_submodules_and_configs_with_their_own_num_labels():
    perceiver = sweep.build("PerceiverForImageClassificationFourier")
    wide = extend_head(perceiver, find_head(perceiver), torch.randn(2, 32), torch.zeros(2))
    assert wide.perceiver.decoder.num_labels == wide.perceiver.decoder.decoder.output_num_channels == SEEN_CLASSES + 2
    assert wide.config.id2label[SEEN_CLASSES - 1] == f"seen class {SEEN_CLASSES - 1}"
    assert wide.config.id2label[SEEN_CLASSES + 1] == f"LABEL_{SEEN_CLASSES + 1}"  # unnamed until inject names it
    pvt = sweep.build("PvtForImageClassification")  # PvtConfig keeps num_labels as a field of its own
    assert extend_head(pvt, find_head(pvt), torch.randn(1, 32), torch.zeros(1)).config.num_labels == SEEN_CLASSES + 1


def test_models_that_cannot_take_new_classes_are_clear_errors():
    with pytest.raises(HeadError, match="cannot take new classes: its two logits are a language model's scores"):
        find_head(sweep.build("ShieldGemma2ForImageClassification"))
    config = transformers.ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                    image_size=32, patch_size=8, num_labels=0)
    with pytest.raises(HeadError, match="model_type 'vit'.*num_labels > 0"):
        find_head(transformers.ViTForImageClassification(config))


EXPECTED_SKIPS = {"ShieldGemma2ForImageClassification": "cannot take new classes"}
NEEDS = {"DinatForImageClassification": "natten"}  # a backend this machine may lack


@pytest.mark.slow
@pytest.mark.parametrize("name", sweep.list_classes())
def test_every_class_of_the_mapping_passes_the_sweep(name, data):  # data: the real photos it runs on
    result = sweep.check_class(name)
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        assert result["status"] == "skip" and NEEDS[name] in result["reason"]
        pytest.skip(result["reason"])
    if name in EXPECTED_SKIPS:
        assert result["status"] == "skip" and EXPECTED_SKIPS[name] in result["reason"]
        return
    assert result["status"] == "pass", result["reason"]
    assert result["features"] == ("mean-of-branches convention" if name in DIFFERENT_INPUTS else "exact")
