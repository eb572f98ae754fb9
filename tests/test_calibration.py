"""Calibration: the vMF sampler against scipy and Bessel functions, offset search, virtual/prior/photo methods."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import vonmises_fisher

from inject.calibration import Problem, calibrate, list_calibrations
from inject.calibration.stacking import stacking_gamma
from inject.images import labelled_images
from inject.calibration.virtual import best_offset, virtual_gamma
from inject.virtual import nearest_row_cosine, scale_for_confidence
from inject.virtual.vmf import concentration_for_cosine, mean_cosine_of, sample_cosines, sample_vmf
from inject.errors import InjectError
from inject.mappers import create_mapper
from inject.metrics import gzsl, seen_unseen_curve
from inject.rows import head_rows, predict_new_rows


@pytest.mark.parametrize("dim,kappa", [(3, 2.0), (64, 30.0), pytest.param(1280, 405.0, marks=pytest.mark.slow)])
def test_cosines_match_scipy_and_the_bessel_mean(dim, kappa):
    ours = sample_cosines(np.full(20000, kappa), dim, np.random.default_rng(0))
    scipys = vonmises_fisher(np.eye(dim)[0], kappa).rvs(4000, random_state=np.random.default_rng(1))[:, 0]
    assert ours.mean() == pytest.approx(mean_cosine_of(kappa, dim), abs=0.01)
    assert ours.mean() == pytest.approx(scipys.mean(), abs=0.02) and ours.std() == pytest.approx(scipys.std(), rel=0.1)


def test_concentration_inverts_the_mean_cosine():
    for cosine in (0.1, 0.29, 0.6, 0.9):
        kappa = float(concentration_for_cosine(torch.tensor([cosine]), 1280))
        assert mean_cosine_of(kappa, 1280) == pytest.approx(cosine, abs=0.01)


def test_samples_are_unit_class_major_and_seeded():
    directions, kappa = torch.randn(5, 32), torch.full((5,), 50.0)
    x = sample_vmf(directions, kappa, 3, seed=7)
    assert x.shape == (15, 32) and torch.allclose(x.norm(dim=1), torch.ones(15))
    own = (x.view(5, 3, 32) * F.normalize(directions, dim=1)[:, None]).sum(-1)
    assert (own > 0.5).all()  # each block of 3 sits around its own direction
    assert torch.equal(x, sample_vmf(directions, kappa, 3, seed=7)) and not torch.equal(x, sample_vmf(directions, kappa, 3, seed=8))


def test_best_offset_is_the_brute_force_optimum():
    g = torch.Generator().manual_seed(0)
    seen_gap, new_gap = torch.randn(300, generator=g) * 3 + 2, torch.randn(100, generator=g) * 3 + 1
    seen_right, new_right = torch.rand(300, generator=g) < 0.8, torch.rand(100, generator=g) < 0.5
    gamma, seen_acc, new_acc = best_offset(seen_gap, seen_right, new_gap, new_right)

    def harmonic(t):
        s, u = ((seen_gap > t) & seen_right).float().mean(), ((new_gap < t) & new_right).float().mean()
        return float(2 * s * u / (s + u)) if s + u > 0 else 0.0

    assert harmonic(gamma) == pytest.approx(2 * seen_acc * new_acc / (seen_acc + new_acc))
    assert harmonic(gamma) >= max(harmonic(float(t)) for t in torch.linspace(-10, 12, 2000)) - 1e-6


def test_scale_reaches_the_target_confidence():
    weight = F.normalize(torch.randn(50, 64), dim=1)
    features = sample_vmf(weight, torch.full((50,), 200.0), 4)
    labels = torch.arange(50).repeat_interleave(4)
    scale = scale_for_confidence(features, labels, weight, torch.zeros(50), 0.8)
    probability = (scale * features @ weight.T).softmax(1)[torch.arange(200), labels].mean()
    assert probability == pytest.approx(0.8, abs=1e-3)


def synthetic_world(seen=300, new=60, dim=64, width=24, noise=2.0, seed=0):
    """A head whose rows are a noisy function of descriptors, and photos drawn as the virtual model assumes.

    Photos are vMF around every row (seen and new) at the nearest-row concentration, scaled so the full
    head gives them mean true-class probability 0.8: the world ``virtual_gamma`` believes in.
    """
    g = torch.Generator().manual_seed(seed)
    descriptors = F.normalize(torch.randn(seen + new, width, generator=g), dim=1)
    rows = descriptors @ torch.randn(width, dim, generator=g) / math.sqrt(width)
    rows = F.normalize(rows + noise * torch.randn(seen + new, dim, generator=g) / math.sqrt(dim), dim=1) * 3
    mean_cosine = nearest_row_cosine(rows).clamp(0.05, 0.95)
    photos = sample_vmf(rows, concentration_for_cosine(mean_cosine, dim), 5, seed=seed + 1)
    labels = torch.arange(seen + new).repeat_interleave(5)
    bias = torch.zeros(seen + new)
    return descriptors, rows, bias, photos * scale_for_confidence(photos, labels, rows, bias, 0.8), labels


def test_virtual_offset_is_near_the_oracle_on_a_world_that_follows_its_model():
    descriptors, rows, bias, photos, labels = synthetic_world()
    new = torch.arange(300, 360)
    predicted = predict_new_rows(rows[:300], bias[:300], descriptors[:300], descriptors[300:], create_mapper("crafted"),
                                 calibration="none")
    logits = photos @ torch.cat([rows[:300], predicted.weight]).T + torch.cat([bias[:300], predicted.bias])
    oracle = seen_unseen_curve(logits, labels, new).best()[1]
    chosen = virtual_gamma(create_mapper("crafted"), head_rows(rows[:300], bias[:300]), descriptors[:300],
                           predicted.weight, predicted.bias)
    assert gzsl(logits, labels, new).harmonic < 0.7 * oracle  # the offset matters here
    assert gzsl(logits, labels, new, chosen.gamma).harmonic >= 0.9 * oracle


def test_registry_methods_and_records():
    descriptors, rows, bias, *_ = synthetic_world(seen=120, new=10)
    mapper = create_mapper("crafted")
    predicted = predict_new_rows(rows[:120], bias[:120], descriptors[:120], descriptors[120:], mapper, calibration="none")
    problem = Problem(mapper, head_rows(rows[:120], bias[:120]), descriptors[:120], predicted.weight, predicted.bias)
    assert set(list_calibrations()) >= {"virtual", "margin", "prior", "none"}
    assert calibrate("none", problem).gamma == 0.0
    assert calibrate("prior", problem).gamma == pytest.approx(math.log(12.0))
    assert calibrate("prior", Problem(*list(problem.__dict__.values())[:5], prior_ratio=2.0)).gamma == pytest.approx(math.log(2.0))
    record = calibrate("virtual", problem).record()
    assert record["method"] == "virtual" and math.isfinite(record["gamma"]) and json.dumps(record)
    with pytest.raises(InjectError, match="unknown calibration 'vmf'.*virtual"):
        calibrate("vmf", problem)


def test_rows_carry_the_offset_and_a_fixed_gamma_wins():
    descriptors, rows, bias, *_ = synthetic_world(seen=120, new=10)
    args = rows[:120], bias[:120], descriptors[:120], descriptors[120:], create_mapper("crafted")
    plain, shifted = predict_new_rows(*args, calibration="none"), predict_new_rows(*args, gamma=1.5)
    assert torch.allclose(shifted.bias - plain.bias, torch.full((10,), 1.5)) and shifted.calibration.method == "fixed"
    with pytest.raises(InjectError, match="prior ratio"):
        predict_new_rows(*args, calibration="prior", prior_ratio=-1.0)
    no_bias = predict_new_rows(rows[:120], None, *args[2:])
    assert no_bias.bias is None and no_bias.calibration.method == "none"


def test_stacking_picks_the_best_offset_and_needs_both_sides():
    g = torch.Generator().manual_seed(0)
    logits, labels, new = torch.randn(200, 12, generator=g), torch.arange(12).repeat(17)[:200], torch.tensor([10, 11])
    chosen = stacking_gamma(logits, labels, new)
    assert chosen.method == "images" and gzsl(logits, labels, new, chosen.gamma).harmonic == pytest.approx(
        seen_unseen_curve(logits, labels, new).best()[1])
    with pytest.raises(InjectError, match="all of new classes"):
        stacking_gamma(logits[labels >= 10], labels[labels >= 10], new)


def test_labelled_images_match_class_names_loosely(tmp_path):
    for folder, files in {"Laysan_albatross": ["a.jpg", "b.PNG", "notes.txt"], "tench": ["c.jpeg"]}.items():
        (tmp_path / folder).mkdir()
        for name in files:
            (tmp_path / folder / name).write_bytes(b"")
    paths, labels = labelled_images(tmp_path, ["tench", "goldfish", "Laysan albatross"])
    assert [p.name for p in paths] == ["a.jpg", "b.PNG", "c.jpeg"] and labels.tolist() == [2, 2, 0]
    (tmp_path / "okapi").mkdir()
    with pytest.raises(InjectError, match="subfolder .*okapi' is not a class of the model"):
        labelled_images(tmp_path, ["tench", "goldfish", "Laysan albatross"])
    with pytest.raises(InjectError, match="does not exist"):
        labelled_images(tmp_path / "missing", ["tench"])
