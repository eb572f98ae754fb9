"""One pipeline for the API and the CLI: offsets land on every branch of multi-branch heads.

DeiT distilled (``head`` + ``head_dist``, logits averaged) and LeViT (``NormLinear``: BatchNorm1d then
Linear, distilled) with random weights: the offset recorded in the output (``gamma``, fixed or chosen
on labelled photos) must be exactly the shift of the new logits against the same injection at
``gamma = 0``, through the API and through the CLI.
"""
import json

import pytest
import timm
import torch
from click.testing import CliRunner

import inject
from inject.checkpoint import read_metadata
from inject.cli import main

from helpers import SEEN, noise_folders, small_model

NEW = ["okapi", "quokka"]
ARCHITECTURES = ["deit_tiny_distilled_patch16_224", "levit_128s"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two noise photos for each of two seen and two new classes, one subfolder per class."""
    return noise_folders(tmp_path_factory.mktemp("photos"), [SEEN[0], SEEN[1], *NEW], per_class=2)


def new_logit_shift(model: torch.nn.Module, reference: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(seen logits difference ``[B, C]``, new logits difference ``[B, K]``) of two extended models."""
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = model(x) - reference(x)
    return diff[:, : len(SEEN)], diff[:, len(SEEN) :]


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("how", ["gamma", "images"])
def test_api_offset_equals_recorded_gamma(name, how, photos, fake_encoder):
    model = small_model(name)
    reference = inject.inject(model, NEW, gamma=0.0)
    options = {"gamma": 1.75} if how == "gamma" else {"calibrate_images": photos}
    extended = inject.inject(model, NEW, **options)
    gamma = extended.pretrained_cfg["inject"]["gamma"]
    seen_diff, new_diff = new_logit_shift(extended, reference)
    assert torch.equal(seen_diff, torch.zeros_like(seen_diff))
    torch.testing.assert_close(new_diff, torch.full_like(new_diff, gamma), atol=1e-4, rtol=0)
    assert extended.pretrained_cfg["inject"]["calibration"]["method"] == ("fixed" if how == "gamma" else "images")


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("how", ["gamma", "images"])
def test_cli_offset_equals_recorded_gamma(name, how, photos, fake_encoder, tmp_path):
    source = tmp_path / "model.safetensors"
    inject.save_model(small_model(name), source)
    classes = tmp_path / "new.txt"
    classes.write_text("\n".join(NEW) + "\n")

    def cli(output, *options):
        result = CliRunner().invoke(main, [str(source), "--classes", str(classes), "-o", str(output), "-q", *options])
        assert result.exit_code == 0, result.output
        record = json.loads(read_metadata(output)["inject"])
        built = timm.create_model(name, num_classes=len(SEEN) + len(NEW), checkpoint_path=str(output)).eval()
        return built, record

    reference, _ = cli(tmp_path / "zero.safetensors", "--gamma", "0")
    options = ["--gamma", "1.75"] if how == "gamma" else ["--calibrate-images", str(photos)]
    extended, record = cli(tmp_path / "out.safetensors", *options)
    seen_diff, new_diff = new_logit_shift(extended, reference)
    assert torch.equal(seen_diff, torch.zeros_like(seen_diff))
    torch.testing.assert_close(new_diff, torch.full_like(new_diff, record["gamma"]), atol=1e-4, rtol=0)
    assert record["head"] in ("head", "head.linear")
