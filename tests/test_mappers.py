"""Mappers behind the one protocol, and the image-free calibration."""
import math

import pytest
import torch
import torch.nn.functional as F

from inject import InjectError
from inject.calibration.rules import heldout_row_cosine, margin_gamma, match_row_norms
from inject.mappers import create_mapper, list_mappers


def linear_task(classes=300, width=20, rows=33, new=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    truth = torch.randn(width, rows, generator=g)
    descriptors = torch.randn(classes + new, width, generator=g)
    return descriptors[:classes], descriptors[:classes] @ truth, descriptors[classes:], descriptors[classes:] @ truth


# hypernet and icis-paper take seconds in their default configurations (-m slow); short trainings of
# them keep both in the fast lane
SHORT = {"hypernet": {"hidden": 64, "steps": 20}, "icis-paper": {"hidden": 256, "epochs": 3}}
MAPPER_CONFIGS = [pytest.param(name, {}, id=name, marks=[pytest.mark.slow] if name in SHORT else [])
                  for name in list_mappers()] + [pytest.param(name, kwargs, id=f"{name}-short") for name, kwargs in SHORT.items()]


@pytest.mark.parametrize("name,kwargs", MAPPER_CONFIGS)
def test_every_mapper_follows_the_protocol(name, kwargs):
    """fit returns the mapper; predict gives one finite row [K, R] per new descriptor, and the rows follow them."""
    mapper = create_mapper(name, **kwargs)
    seen_x, seen_y, new_x, _ = linear_task()
    assert mapper.fit(seen_x, seen_y) is mapper
    predicted = mapper.predict(new_x)
    assert predicted.shape == (new_x.shape[0], seen_y.shape[1]) and predicted.dtype == seen_y.dtype
    assert torch.isfinite(predicted).all()
    # rows come from the descriptors, not a constant: distinct descriptors give distinct rows, and
    # predicting for other descriptors gives other rows
    assert torch.cdist(predicted, predicted)[~torch.eye(len(predicted), dtype=torch.bool)].min() > 1e-4
    other = mapper.predict(seen_x[:4])
    assert other.shape == (4, seen_y.shape[1]) and not torch.allclose(other, predicted[:4])


def test_crafted_recovers_a_linear_map():
    seen_x, seen_y, new_x, new_y = linear_task()
    predicted = create_mapper("crafted").fit(seen_x, seen_y).predict(new_x)
    assert F.cosine_similarity(predicted, new_y, dim=1).min() > 0.999


def test_crafted_cross_validation_prefers_strong_regularisation_for_noise():
    g = torch.Generator().manual_seed(1)
    mapper = create_mapper("crafted").fit(torch.randn(200, 50, generator=g), torch.randn(200, 8, generator=g))
    assert mapper.alpha_ == max(mapper.alphas)


def test_conse_rows_are_convex_combinations_of_seen_rows():
    seen_x, seen_y, new_x, _ = linear_task()
    mapper = create_mapper("conse", top_k=3).fit(seen_x, seen_y)
    predicted = mapper.predict(new_x)
    nearest = (F.normalize(new_x, dim=1) @ F.normalize(seen_x, dim=1).T).topk(3).indices
    for row, idx in zip(predicted, nearest):
        low, high = seen_y[idx].min(0).values, seen_y[idx].max(0).values
        assert (row >= low - 1e-5).all() and (row <= high + 1e-5).all()


def test_unknown_mapper_names_the_choices():
    with pytest.raises(InjectError, match="crafted"):
        create_mapper("nope")


def test_match_row_norms():
    seen, new = torch.randn(10, 4) * 3, torch.randn(5, 4)
    assert torch.allclose(match_row_norms(new, seen).norm(dim=1), seen.norm(dim=1).mean().expand(5))


def test_margin_gamma_is_zero_for_perfect_rows_and_log_c_for_useless_ones():
    assert margin_gamma(1000, 1.0) == 0.0
    assert margin_gamma(1000, -0.5) == pytest.approx(math.log(1000))
    assert margin_gamma(1000, 0.25) == pytest.approx(0.75 * math.log(1000))


def test_heldout_cosine_is_high_for_a_learnable_map_and_low_for_noise():
    seen_x, seen_y, _, _ = linear_task()
    assert heldout_row_cosine(create_mapper("crafted"), seen_x, seen_y) > 0.99
    noise = torch.randn(seen_y.shape, generator=torch.Generator().manual_seed(3))
    assert heldout_row_cosine(create_mapper("crafted"), seen_x, noise) < 0.2
