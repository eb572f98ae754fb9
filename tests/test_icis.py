"""ICIS: joint descriptor/row autoencoders, the tuned default and the published configuration."""
import pytest
import torch
import torch.nn.functional as F

from inject.mappers import Mapper, create_mapper, list_mappers
from inject.mappers.icis import ICISMapper, _slope_stop


def linear_task(classes=300, width=20, rows=33, new=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    truth = torch.randn(width, rows, generator=g)
    descriptors = F.normalize(torch.randn(classes + new, width, generator=g), dim=1)
    return descriptors[:classes], descriptors[:classes] @ truth, descriptors[classes:], descriptors[classes:] @ truth


def small(name="icis", **kwargs):
    """A fast instance: the default configuration with a narrower latent space."""
    return create_mapper(name, **{"hidden": 256, **kwargs})


@pytest.mark.parametrize("name", ["icis", "icis-paper"])
def test_both_configurations_are_registered_mappers(name):
    assert name in list_mappers()
    mapper = small(name, epochs=30)
    seen_x, seen_y, new_x, _ = linear_task(classes=40, new=5)
    assert isinstance(mapper, Mapper) and isinstance(mapper, ICISMapper)
    assert mapper.fit(seen_x, seen_y, new_x) is mapper
    predicted = mapper.predict(new_x)
    assert predicted.shape == (5, seen_y.shape[1]) and predicted.dtype == seen_y.dtype
    assert torch.isfinite(predicted).all()


def test_output_dtype_follows_the_rows():
    seen_x, seen_y, new_x, _ = linear_task(classes=30, new=4)
    predicted = small(epochs=3).fit(seen_x, seen_y.double()).predict(new_x)
    assert predicted.dtype == torch.float64 and predicted.shape == (4, seen_y.shape[1])


def test_same_seed_gives_identical_rows_and_another_seed_does_not():
    seen_x, seen_y, new_x, _ = linear_task(classes=100, new=10)
    first = small(epochs=5).fit(seen_x, seen_y, new_x).predict(new_x)
    second = small(epochs=5).fit(seen_x, seen_y, new_x).predict(new_x)
    other = small(epochs=5, seed=1).fit(seen_x, seen_y, new_x).predict(new_x)
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_learns_a_linear_descriptor_to_row_map():
    seen_x, seen_y, new_x, new_y = linear_task()
    predicted = create_mapper("icis").fit(seen_x, seen_y, new_x).predict(new_x)
    assert F.cosine_similarity(predicted, new_y, dim=1).mean() > 0.9


def test_new_descriptors_given_to_fit_are_learnt_from():
    seen_x, seen_y, new_x, _ = linear_task(classes=100, new=20)
    without = small(epochs=5).fit(seen_x, seen_y).predict(new_x)
    transductive = small(epochs=5).fit(seen_x, seen_y, new_x).predict(new_x)
    inductive = small(epochs=5, transductive=False).fit(seen_x, seen_y, new_x).predict(new_x)
    assert not torch.equal(without, transductive)
    assert torch.equal(without, inductive)


def test_icis_paper_has_the_published_hyperparameters():
    mapper = create_mapper("icis-paper")
    assert (mapper.hidden, mapper.lr, mapper.batch_size, mapper.epochs) == (2048, 1e-5, 16, 1000)
    assert mapper.early_stopping and not mapper.cosine_schedule
    assert (mapper.loss, mapper.weight_decay, mapper.transductive) == ("cosine", 0.0, True)
    assert create_mapper("icis-paper", epochs=3).epochs == 3


def test_slope_early_stop_follows_the_public_code():
    flat = [1.0] * 40
    assert not _slope_stop(flat[:25], 2e-3)  # not before epoch 26: the 22nd epoch plus 4 more
    assert _slope_stop(flat[:26], 2e-3)
    falling = [1.0 - 0.01 * i for i in range(40)]  # slope 0.01 per epoch > 2e-3
    assert not _slope_stop(falling, 2e-3)
    plateau = falling[:30] + [falling[29]] * 25
    # slope after epoch 43: (0.731 - 0.71) / 10 > 2e-3; after epoch 44: (0.725 - 0.71) / 10 < 2e-3,
    # so epochs 44..48 are the first five in a row below the threshold
    assert not any(_slope_stop(plateau[:n], 2e-3) for n in range(26, 48))
    assert _slope_stop(plateau[:48], 2e-3)


def test_icis_paper_stops_early_on_a_plateau():
    seen_x, seen_y, new_x, _ = linear_task(classes=40, new=5)
    mapper = small("icis-paper").fit(seen_x, seen_y, new_x)
    assert 26 <= len(mapper.epoch_losses_) < 1000


def test_mse_loss_option_and_bad_loss_name():
    seen_x, seen_y, new_x, _ = linear_task(classes=40, new=5)
    predicted = small(loss="mse", epochs=3).fit(seen_x, seen_y, new_x).predict(new_x)
    assert torch.isfinite(predicted).all()
    with pytest.raises(ValueError, match="cosine"):
        ICISMapper(loss="l1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none; run on a GPU machine)")
def test_trains_on_a_gpu_when_present_and_agrees_with_the_cpu():
    seen_x, seen_y, new_x, new_y = linear_task()
    on_gpu = create_mapper("icis").fit(seen_x, seen_y, new_x)  # device=None picks the GPU
    assert on_gpu.descriptor_ae_.encoder.weight.is_cuda
    predicted = on_gpu.predict(new_x)
    assert predicted.device.type == "cpu" and predicted.dtype == seen_y.dtype
    on_cpu = create_mapper("icis", device="cpu").fit(seen_x, seen_y, new_x).predict(new_x)
    assert F.cosine_similarity(predicted, on_cpu, dim=1).min() > 0.99
    assert F.cosine_similarity(predicted, new_y, dim=1).mean() > 0.9
