"""A model on a CUDA device: injection leaves it there, keeps its seen logits and agrees with the CPU.

Skipped where there is no GPU (CI has none); run on a GPU machine with
``pytest tests/test_gpu.py``. Each case runs the same injection on a CPU copy of the model and on
the GPU model: image-free, with labelled calibration photos, and with photos of the new classes.
"""
import copy

import pytest
import torch

import inject

from helpers import SEEN, noise_folders, small_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")

NEW = ["okapi", "quokka", "axolotl"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """(labelled photos of two seen and the three new classes, photos of the new classes only)."""
    return (noise_folders(tmp_path_factory.mktemp("calibration"), [SEEN[0], SEEN[1], *NEW], per_class=3),
            noise_folders(tmp_path_factory.mktemp("support"), NEW, per_class=3))


@pytest.mark.parametrize("option", ["image-free", "calibrate_images", "images"])
def test_a_gpu_model_stays_on_the_gpu_and_agrees_with_the_cpu(option, photos, fake_encoder):
    labelled, support = photos
    options = {"image-free": {}, "calibrate_images": {"calibrate_images": labelled}, "images": {"images": support}}[option]
    on_cpu = small_model()
    on_gpu = copy.deepcopy(on_cpu).cuda()
    expected = inject.inject(on_cpu, NEW, progress=False, **options)
    extended = inject.inject(on_gpu, NEW, progress=False, **options)

    assert all(p.is_cuda for p in extended.parameters())
    x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        original, logits = on_gpu(x.cuda()), extended(x.cuda())
        reference = expected(x)
    assert torch.equal(logits[:, : len(SEEN)], original)  # seen logits bit-identical
    assert torch.allclose(logits.cpu(), reference, rtol=1e-3, atol=1e-3)
    assert extended.pretrained_cfg["inject"]["gamma"] == pytest.approx(expected.pretrained_cfg["inject"]["gamma"], abs=1e-3)


def test_a_half_precision_gpu_model_gets_half_precision_rows(fake_encoder):
    model = small_model().cuda().half()
    extended = inject.inject(model, NEW, progress=False)
    head = extended.get_classifier()
    assert head.weight.dtype == torch.float16 and head.weight.is_cuda
    assert torch.equal(head.weight[: len(SEEN)], model.get_classifier().weight)
