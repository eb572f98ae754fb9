"""Invariants over random small heads (hypothesis): seen rows unchanged, C + K outputs, labels aligned.

Seen rows and biases are copied bit-exactly. The seen logits then come out of a wider matrix
multiply: on real heads (1000 classes, every architecture in test_adapters) they are bit-identical,
but for some tiny or odd head widths MKL's tail kernels round the last bit differently, so here
they are compared to float rounding.
"""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import inject


class TinyClassifier(nn.Module):
    def __init__(self, features: int, classes: int, bias: bool, conv: bool) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(features, classes, 1, bias=bias) if conv else nn.Linear(features, classes, bias=bias)

    def forward(self, x):
        x = self.pool(x)
        return self.fc(x).flatten(1) if isinstance(self.fc, nn.Conv2d) else self.fc(x.flatten(1))


def check_injection_invariants(features, classes, new, width, bias, conv, mapper, seed):
    torch.manual_seed(seed)
    model = TinyClassifier(features, classes, bias, conv).eval()
    seen_names = [f"seen {i}" for i in range(classes)]
    model.label_names = seen_names
    extended = inject.inject(model, torch.randn(new, width), seen=torch.randn(classes, width), mapper=mapper)
    x = torch.randn(3, features, 5, 5)
    with torch.no_grad():
        before, after = model(x), extended(x)
    assert after.shape == (3, classes + new)
    head, new_head = model.fc, extended.fc
    assert torch.equal(new_head.weight[:classes], head.weight)
    assert (head.bias is None and new_head.bias is None) or torch.equal(new_head.bias[:classes], head.bias)
    torch.testing.assert_close(after[:, :classes], before, rtol=1e-6, atol=1e-6)
    names = inject.labels(extended)
    assert names[:classes] == seen_names and len(names) == classes + new
    assert torch.isfinite(after).all()


HEADS = dict(
    features=st.integers(2, 64),
    classes=st.integers(3, 40),
    new=st.integers(1, 12),
    width=st.integers(2, 16),
    bias=st.booleans(),
    conv=st.booleans(),
    seed=st.integers(0, 2**16),
)
FAST_MAPPERS = ["conse", "crafted"]  # training-free: milliseconds per example


@settings(max_examples=25, deadline=None)
@given(mapper=st.sampled_from(FAST_MAPPERS), **HEADS)
def test_injection_invariants(features, classes, new, width, bias, conv, mapper, seed):
    check_injection_invariants(features, classes, new, width, bias, conv, mapper, seed)


@pytest.mark.slow  # the trained mappers' default configurations, 25 examples
@settings(max_examples=25, deadline=None)
@given(mapper=st.sampled_from(inject.list_mappers()), **HEADS)
def test_injection_invariants_for_every_mapper(features, classes, new, width, bias, conv, mapper, seed):
    check_injection_invariants(features, classes, new, width, bias, conv, mapper, seed)
