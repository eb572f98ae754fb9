"""Finding the head among the tensors of bare state dicts."""
import pytest
import timm
import torchvision

from inject.adapters import HeadError, find_head_in_state_dict


def shapes_of(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def on_meta(build):
    """Build the model's tensors on the meta device: shapes only, no memory, no random init (fast)."""
    import torch

    with torch.device("meta"):
        return build()


@pytest.mark.parametrize(
    "build,prefix",
    [  # builders, called in the test: nothing is built while collecting
        (torchvision.models.mobilenet_v3_small, "classifier.3"),  # classifier.0 is a hidden layer
        (torchvision.models.vgg11, "classifier.6"),
        (torchvision.models.squeezenet1_0, "classifier.1"),
        (lambda: timm.create_model("convnext_atto"), "head.fc"),
        (lambda: timm.create_model("vit_tiny_patch16_224"), "head"),
    ],
    ids=["mobilenet_v3_small", "vgg11", "squeezenet1_0", "convnext_atto", "vit_tiny"],
)
def test_key_heuristic_finds_the_final_layer(build, prefix):
    head = find_head_in_state_dict(shapes_of(on_meta(build)))
    assert head.prefix == prefix and head.weight_key == f"{prefix}.weight"


def test_architecture_metadata_names_the_head():
    shapes = shapes_of(on_meta(lambda: timm.create_model("mobilenetv3_small_100")))
    head = find_head_in_state_dict(shapes, {"architecture": "mobilenetv3_small_100"})
    assert head.prefix == "classifier" and head.bias_key == "classifier.bias"


def test_ambiguous_heads_ask_for_head_key():
    shapes = {"fc.weight": (10, 8), "fc.bias": (10,), "head.weight": (5, 8), "head.bias": (5,)}
    with pytest.raises(HeadError, match="--head-key"):
        find_head_in_state_dict(shapes)
    assert find_head_in_state_dict(shapes, head_key="head").prefix == "head"
    assert find_head_in_state_dict(shapes, {"num_classes": "10"}).prefix == "fc"


def test_no_head_and_bad_head_key_are_clear_errors():
    with pytest.raises(HeadError, match="no classifier found"):
        find_head_in_state_dict({"backbone.conv.weight": (8, 3, 3, 3)})
    with pytest.raises(HeadError, match="no tensor 'nope.weight'"):
        find_head_in_state_dict({"fc.weight": (10, 8)}, head_key="nope")


def test_distilled_and_norm_heads_are_found_whole():
    import torch

    from inject.adapters import extend_state_dict, find_head

    deit = find_head_in_state_dict(shapes_of(on_meta(lambda: timm.create_model("deit_tiny_distilled_patch16_224"))))
    assert deit.prefixes == ("head", "head_dist")
    model = timm.create_model("levit_128s").eval()
    state = model.state_dict()
    levit = find_head_in_state_dict(shapes_of(model))
    assert levit.prefixes == ("head.linear", "head_dist.linear") and levit.norm_prefix == "head.bn"
    weight, bias = levit.rows(state)
    assert torch.allclose(weight, find_head(model).weight) and torch.allclose(bias, find_head(model).bias)
    extended = extend_state_dict(state, levit, torch.randn(2, weight.shape[1]), torch.zeros(2))
    assert extended["head_dist.linear.weight"].shape[0] == 1002
    assert torch.equal(extended["head.linear.weight"][:1000], state["head.linear.weight"])


def test_inception_aux_head_is_not_a_candidate():
    head = find_head_in_state_dict(shapes_of(torchvision.models.inception_v3(init_weights=False)))
    assert head.prefix == "fc" and [a.prefix for a in head.aux] == ["AuxLogits.fc"]
