"""Evaluation metrics: the exact seen-unseen curve agrees with brute-force calibrated stacking; the paired bootstrap."""
import pytest
import torch

from inject.metrics import gzsl, paired_bootstrap, seen_unseen_curve, zsl_top1


def random_problem(seed=0, samples=300, classes=30, unseen_count=8):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (samples,), generator=g)
    logits = torch.randn(samples, classes, generator=g) + 2.5 * torch.nn.functional.one_hot(labels, classes)
    unseen = torch.randperm(classes, generator=g)[:unseen_count]
    return logits, labels, unseen


def test_curve_matches_gzsl_at_every_breakpoint():
    logits, labels, unseen = random_problem()
    curve = seen_unseen_curve(logits, labels, unseen)
    for i in range(0, len(curve.gammas), 17):
        direct = gzsl(logits, labels, unseen, float(curve.gammas[i]))
        assert abs(direct.seen - float(curve.seen[i])) < 1e-6 and abs(direct.unseen - float(curve.unseen[i])) < 1e-6


def test_curve_ends_and_area():
    logits, labels, unseen = random_problem(seed=1)
    curve = seen_unseen_curve(logits, labels, unseen)
    assert float(curve.unseen[0]) == 0.0 and float(curve.seen[-1]) == 0.0
    assert abs(float(curve.unseen[-1]) - zsl_top1(logits, labels, unseen)) < 1e-6
    assert 0.0 < curve.area() <= float(curve.seen.max()) * float(curve.unseen.max()) + 1e-9
    best_gamma, best_h = curve.best()
    assert abs(gzsl(logits, labels, unseen, best_gamma).harmonic - best_h) < 1e-6


def test_paired_bootstrap_brackets_the_mean_difference_and_repeats():
    ours = torch.tensor([1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0, 0.25])
    other = torch.tensor([0.0, 0.0, 1.0, 0.5, 1.0, 0.0, 0.0, 0.0])
    mean, low, high = paired_bootstrap(ours, other)
    assert mean == pytest.approx(float((ours - other).mean()))
    assert low < mean < high and low >= -1 and high <= 1
    assert paired_bootstrap(ours, other) == (mean, low, high)  # seeded
    assert paired_bootstrap(ours, ours) == (0.0, 0.0, 0.0)


def test_paired_bootstrap_narrows_with_more_classes():
    rng = torch.Generator().manual_seed(0)
    few, many = torch.rand(16, generator=rng), torch.rand(1000, generator=rng)
    _, low_few, high_few = paired_bootstrap(few, torch.zeros(16))
    _, low_many, high_many = paired_bootstrap(many, torch.zeros(1000))
    assert high_many - low_many < (high_few - low_few) / 4


def test_paired_bootstrap_refuses_unpaired_scores():
    with pytest.raises(ValueError, match="paired_bootstrap"):
        paired_bootstrap(torch.zeros(3), torch.zeros(4))
