"""vmf-gen and hypernet: the properties their papers rely on, on small synthetic heads."""
import pytest
import torch
import torch.nn.functional as F

from inject.mappers import create_mapper
from inject.mappers.hypernet import HyperNetwork


def structured_head(classes=160, new=20, width=32, features=16, seed=0):
    """Rows ``[W | b]`` that are a noisy linear function of unit descriptors."""
    g = torch.Generator().manual_seed(seed)
    descriptors = F.normalize(torch.randn(classes + new, features, generator=g), dim=1)
    weight = descriptors @ torch.randn(features, width, generator=g) + 0.3 * torch.randn(classes + new, width, generator=g)
    rows = torch.cat([weight, 0.1 * torch.randn(classes + new, 1, generator=g)], dim=1)
    return descriptors[:classes], rows[:classes], descriptors[classes:], rows[classes:]


def test_hypernetwork_is_permutation_equivariant_and_uses_the_set():
    torch.manual_seed(0)
    net = HyperNetwork(8, 5, 16)
    z = torch.randn(10, 8)
    order = torch.randperm(10)
    with torch.no_grad():
        assert torch.allclose(net(z)[order], net(z[order]), atol=1e-6)
        others_changed = torch.cat([z[:1], torch.randn(9, 8)])
        assert not torch.allclose(net(z)[0], net(others_changed)[0])  # a row depends on the other classes


@pytest.mark.slow  # full default trainings
def test_hypernet_and_vmf_gen_predict_rows_that_point_the_right_way():
    seen_x, seen_y, new_x, new_y = structured_head()
    for name in ("hypernet", "vmf-gen"):
        predicted = create_mapper(name).fit(seen_x, seen_y, new_x).predict(new_x)
        cosine = F.cosine_similarity(predicted[:, :-1], new_y[:, :-1], dim=1)
        shuffled = F.cosine_similarity(predicted[:, :-1], new_y[torch.arange(len(new_y)).roll(1), :-1], dim=1)
        assert cosine.mean() > 0.5 and cosine.mean() > shuffled.mean() + 0.3, name


def test_vmf_gen_generates_features_the_seen_head_recognises():
    seen_x, seen_y, _, _ = structured_head()
    mapper = create_mapper("vmf-gen").fit(seen_x, seen_y)
    conditions = mapper._out_of_fold_conditions(seen_x, seen_y)
    with torch.no_grad():
        features = mapper.scale_ * mapper._generate(conditions)
    logits = features @ seen_y[:, :-1].T + seen_y[:, -1]
    assert (logits.argmax(1) == torch.arange(len(seen_x))).float().mean() > 0.5
