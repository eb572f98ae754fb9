"""find_head / inject on real timm and torchvision architectures with random weights."""
import pytest
import timm
import torch
import torchvision
from torch import nn

import inject
from inject.adapters import HeadError, extend_head, find_head

TIMM_HEADS = {
    "resnet18": "fc",
    "efficientnet_b0": "classifier",
    "mobilenetv3_small_100": "classifier",
    "convnext_atto": "head.fc",
    "vit_tiny_patch16_224": "head",
    "dla34": "fc",  # 1x1 conv classifier
}
TORCHVISION_HEADS = {
    "resnet18": "fc",
    "mobilenet_v3_small": "classifier.3",
    "convnext_tiny": "classifier.2",
    "vit_b_16": "heads.head",
    "squeezenet1_0": "classifier.1",  # 1x1 conv, then ReLU and pooling
}


def _timm(name: str) -> nn.Module:
    return timm.create_model(name, pretrained=False).eval()


def _torchvision(name: str) -> nn.Module:
    return torchvision.models.get_model(name, weights=None).eval()


FAST = {"timm/resnet18", "torchvision/squeezenet1_0"}  # a Linear head and a 1x1-conv head; the rest: -m slow
CASES = [
    pytest.param(build, name, path, id=case, marks=[] if case in FAST else [pytest.mark.slow])
    for case, build, name, path in [(f"timm/{n}", _timm, n, p) for n, p in TIMM_HEADS.items()]
    + [(f"torchvision/{n}", _torchvision, n, p) for n, p in TORCHVISION_HEADS.items()]
]


@pytest.mark.parametrize("build,name,path", CASES)
def test_inject_keeps_seen_logits_and_adds_outputs(build, name, path):
    torch.manual_seed(0)
    model = build(name)
    head = find_head(model)
    assert head.path == path
    seen = torch.randn(head.num_classes, 12)
    new = torch.randn(3, 12)
    extended = inject.inject(model, new, seen=seen)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        before, after = model(x), extended(x)
    assert after.shape == (2, head.num_classes + 3)
    assert torch.equal(after[:, : head.num_classes], before)
    new_layer = find_head(extended).layer
    assert type(new_layer) is (nn.Conv2d if isinstance(head.layer, nn.Conv2d) else nn.Linear)  # plain torch layers
    assert len(inject.labels(extended)) == head.num_classes + 3
    assert model is not extended and find_head(model).num_classes == head.num_classes  # input untouched


def test_inplace_modifies_the_model_itself():
    model = _timm("resnet18")
    result = inject.inject(model, torch.randn(2, 8), seen=torch.randn(1000, 8), inplace=True)
    assert result is model and model.fc.out_features == 1002 and model.num_classes == 1002


def test_model_without_classifier_is_a_clear_error():
    model = timm.create_model("resnet18", pretrained=False, num_classes=0)
    with pytest.raises(HeadError, match="no classification layer"):
        find_head(model)


def test_head_without_bias_is_extended_without_bias():
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4, bias=False))
    # no known attribute: nn.Sequential of a Linear needs the head at a known place
    wrapped = nn.Module()
    wrapped.fc = model[1]
    head = find_head(wrapped)
    extended = extend_head(wrapped, head, torch.randn(2, 6), None)
    assert extended.fc.bias is None and extended.fc.out_features == 6
    with pytest.raises(HeadError, match="bias"):
        extend_head(wrapped, head, torch.randn(2, 6), torch.zeros(2))


def test_timm_model_reloads_from_saved_file(tmp_path):
    model = _timm("resnet18")
    extended = inject.inject(model, torch.randn(4, 8), seen=torch.randn(1000, 8))
    inject.save_model(extended, tmp_path / "m.safetensors")
    reloaded = timm.create_model("resnet18", num_classes=1004, checkpoint_path=str(tmp_path / "m.safetensors")).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(reloaded(x), extended(x))


def _pre_and_logits(model, x):
    with torch.no_grad():
        return model.forward_head(model.forward_features(x), pre_logits=True), model(x)


@pytest.mark.parametrize("name", ["deit_tiny_distilled_patch16_224", "levit_128s"])
def test_distilled_heads_get_the_same_new_rows(name):
    torch.manual_seed(0)
    model = _timm(name)
    if name.startswith("levit"):  # a non-trivial BatchNorm in front of each NormLinear
        for norm in (model.head.bn, model.head_dist.bn):
            norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2), norm.weight.data.uniform_(0.5, 2)
    head = find_head(model)
    assert head.paths[1] == head.paths[0].replace("head", "head_dist", 1)
    x = torch.randn(2, 3, 224, 224)
    pre, before = _pre_and_logits(model, x)
    if name.startswith("levit"):  # both heads read the same pre-logits: the folded mean rows are exact
        assert torch.allclose(pre @ head.weight.T + head.bias, before, rtol=1e-4, atol=1e-4)
    new_w, new_b = torch.randn(3, head.weight.shape[1]), torch.randn(3)
    extended = extend_head(model, head, new_w, new_b)
    _, after = _pre_and_logits(extended, x)
    assert torch.equal(after[:, :1000], before)
    assert torch.allclose(after[:, 1000:], pre @ new_w.T + new_b, rtol=1e-4, atol=1e-3)  # new rows: exact for both
    assert extended.head_dist is not None and find_head(extended).num_classes == 1003


def test_auxiliary_heads_are_extended_with_neutral_rows():
    model = _torchvision("googlenet")
    head = find_head(model)
    assert head.path == "fc" and [a.path for a in head.aux] == ["aux1.fc2", "aux2.fc2"]
    extended = extend_head(model, head, torch.randn(2, 1024), torch.zeros(2))
    assert extended.aux1.fc2.out_features == 1002 and torch.equal(extended.aux1.fc2.weight[:1000], model.aux1.fc2.weight)
    assert torch.equal(extended.aux2.fc2.weight[1000], model.aux2.fc2.weight.mean(0))
