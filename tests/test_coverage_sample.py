"""A sample of the coverage sweep (``python -m benchmarks.coverage``): ~30 architectures across families.

Each case runs every check of :func:`sweep.checks.check_model` (benchmarks/sweep) (seen logits bit-exact, C + 3
outputs, ``torch.jit.trace``, safetensors round trip through the state-dict adapters and a strict
load into a ``num_classes=C + 3`` model) on a tiny variant at a small input.
"""
from functools import lru_cache

import pytest
import torch

from benchmarks.sweep import checks as coverage

TIMM = [
    "resnet18", "deit_tiny_distilled_patch16_224", "levit_128s", "levit_conv_128s", "dla34", "dpn68b",
    "resnetv2_50x1_bit", "mobilenetv3_small_100", "mobilenetv4_conv_small", "convnext_atto",
    "swin_tiny_patch4_window7_224", "vit_tiny_patch16_224", "efficientnet_b0", "regnetx_002",
    "crossvit_tiny_240", "volo_d1_224", "inception_v3", "iformer_t", "efficientvim_m1_dist",
]
TORCHVISION = [
    "googlenet", "inception_v3", "squeezenet1_0", "maxvit_t", "vgg11", "densenet121", "mobilenet_v3_small",
    "resnet18", "vit_b_16", "swin_t", "efficientnet_b0", "shufflenet_v2_x0_5", "regnet_y_400mf",
]
FAST = {("timm", "resnet18"), ("torchvision", "squeezenet1_0")}  # the fast lane's sample; all of them: -m slow
CASES = [
    pytest.param(library, name, id=f"{library}/{name}", marks=[] if (library, name) in FAST else [pytest.mark.slow])
    for library, name in [("timm", n) for n in TIMM] + [("torchvision", n) for n in TORCHVISION]
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@lru_cache(maxsize=None)
def checked(library: str, name: str) -> dict:
    """``check_model`` once per architecture per session (several tests read the same result)."""
    return coverage.check_model(library, name)


@pytest.mark.parametrize("library,name", CASES)
def test_model_passes_every_check(library, name):
    result = checked(library, name)
    assert result["status"] == "pass", result["reason"]
    assert result["trace"] == "ok"


@pytest.mark.slow
def test_distilled_heads_are_both_extended():
    result = checked("timm", "deit_tiny_distilled_patch16_224")
    assert result["head"] == ["head", "head_dist"]
    levit = checked("timm", "levit_128s")
    assert levit["head"] == ["head.linear", "head_dist.linear"] and levit["norm"] is True


@pytest.mark.slow
def test_no_bias_head_and_aux_heads_are_reported():
    maxvit = checked("torchvision", "maxvit_t")
    assert maxvit["status"] == "pass" and maxvit["bias"] is False
    googlenet = checked("torchvision", "googlenet")
    assert googlenet["aux"] == ["aux1.fc2", "aux2.fc2"]


def test_isolated_run_reports_a_crash_as_a_failure():
    result = coverage.run_isolated(_crash, (), timeout=30, max_rss=2**33)
    assert result["status"] == "fail" and "crashed" in result["reason"]


def _crash() -> dict:
    import os

    os._exit(3)


@pytest.mark.slow
def test_norm_linear_named_l_and_multi_stage_heads_agree_between_module_and_state_dict():
    iformer = checked("timm", "iformer_t")  # RepViT-style NormLinear: bn + l
    assert iformer["status"] == "pass" and iformer["norm"] is True and iformer["head"] == ["head.head.l"]
    vim = checked("timm", "efficientvim_m1_dist")  # one head per stage, plus distillation heads: 8 layers
    assert vim["status"] == "pass" and vim["head"] == [f"heads.{i}" for i in range(4)] + [f"heads_dist.{i}" for i in range(4)]
