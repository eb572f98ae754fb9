"""The Python API refuses bad input with ``InjectError`` before any work, and can skip existing names."""
import pytest
import torch
from torch import nn

import inject
from inject import InjectError


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 6)
        self.label_names = [f"class {i}" for i in range(6)]

    def forward(self, x):
        return self.fc(x.flatten(1))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return Tiny().eval()


@pytest.mark.parametrize(
    "new,kwargs,message",
    [
        (torch.randn(2, 5), {"seen": torch.randn(6, 4)}, "new descriptors have width 5 but seen ones 4"),
        (torch.randn(2, 4), {"seen": torch.randn(5, 4)}, "5 seen descriptors for a head of 6 classes"),
        (torch.randn(2, 4), {}, "seen must be vectors of the same width"),
        (torch.full((2, 4), float("nan")), {"seen": torch.randn(6, 4)}, "new descriptors contain NaN"),
        (torch.randn(2, 4), {"seen": torch.randn(6, 4), "gamma": float("inf")}, "gamma .* must be a finite number"),
        ([["a", "b"]], {"seen": torch.randn(6, 4)}, "new descriptors must be a numeric 2-D array"),
        ("okapi", {}, "new must be a list of class names, not the string 'okapi'"),
        (["okapi", "OKAPI"], {}, "duplicate new class names"),
        (["okapi"], {"seen": ["a", "b"]}, "seen has 2 names but the head has 6 rows"),
        (["okapi", "class 2"], {}, "already classes of the model: class 2; .*allow_existing=True"),
        (["class 2"], {"allow_existing": True}, "nothing to inject"),
    ],
    ids=["width", "seen-count", "no-seen-vectors", "nan", "gamma-inf", "strings-as-vectors", "one-string",
         "duplicates", "seen-names-count", "existing", "all-existing"],
)
def test_bad_api_input_raises_inject_error(model, fake_encoder, new, kwargs, message):
    with pytest.raises(InjectError, match=message):
        inject.inject(model, new, encoder=fake_encoder, **kwargs)


def test_a_nan_head_is_refused(model):
    with torch.no_grad():
        model.fc.weight[2, 3] = float("inf")
    with pytest.raises(InjectError, match="NaN or infinite"):
        inject.inject(model, torch.randn(2, 4), seen=torch.randn(6, 4))


def test_allow_existing_skips_with_a_warning(model, fake_encoder):
    with pytest.warns(UserWarning, match="skipped names already among the model's classes: Class 2"):
        extended = inject.inject(model, ["okapi", "Class 2"], encoder=fake_encoder, allow_existing=True)
    assert inject.labels(extended) == model.label_names + ["okapi"]
    assert extended.fc.weight.shape == (7, 8)


def test_descriptors_that_need_grad_or_are_bfloat16_are_accepted(model):
    new, seen = torch.randn(2, 4, requires_grad=True), torch.randn(6, 4).bfloat16()
    assert inject.inject(model, new, seen=seen).fc.out_features == 8


def test_combined_descriptors_average_the_per_source_cosines():
    from inject.semantics import combine_descriptors

    first, second = torch.randn(6, 5), 100 * torch.randn(6, 3)  # the scale of a source must not matter
    combined = combine_descriptors(first, second)
    unit = [torch.nn.functional.normalize(part, dim=1) for part in (first, second)]
    expected = (unit[0] @ unit[0].T + unit[1] @ unit[1].T) / 2
    assert combined.shape == (6, 8)
    torch.testing.assert_close(combined @ combined.T, expected)


def test_combined_descriptors_refuse_mismatched_class_counts():
    from inject.semantics import combine_descriptors

    with pytest.raises(InjectError, match="different class counts"):
        combine_descriptors(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(InjectError, match="at least one"):
        combine_descriptors()
