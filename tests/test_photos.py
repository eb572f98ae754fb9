"""Photos of new classes (``images=`` / ``--images``): features, gathering, the blend, the pipeline, the CLI."""
import json

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from click.testing import CliRunner
from PIL import Image

import inject
from inject.adapters import extend_head, find_head
from inject.adapters.features import head_inputs
from inject.checkpoint import read_metadata
from inject.cli import main
from inject.errors import InjectError
from inject.images import _opened, draft_side, image_transform, run_on_photos
from inject.photos.blend import DEFAULT_PULL, choose_pull, fit_rows, prior_directions
from inject.photos.support import gather_support

from helpers import SEEN, small_model

NEW = ["okapi", "quokka", "axolotl"]


def _noise(path, size=64, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three noise photos of "okapi" and two of "quokka" (none of "axolotl"), one subfolder each."""
    root = tmp_path_factory.mktemp("support")
    for name, count in (("okapi", 3), ("Quokka", 2)):
        (root / name).mkdir()
        for i in range(count):
            _noise(root / name / f"{i}.png", seed=len(name) * 10 + i)
    return root


@pytest.mark.parametrize("build,name", [
    (timm.create_model, "resnet18"),
    (timm.create_model, "levit_128s"),
    (timm.create_model, "deit_tiny_distilled_patch16_224"),
    (torchvision.models.get_model, "mobilenet_v3_small"),
])
def test_head_inputs_give_exactly_the_new_logits(build, name):
    torch.manual_seed(0)
    model = build(name, num_classes=10).eval()
    head = find_head(model)
    x = torch.randn(2, 3, 224, 224)
    features = head_inputs(model, head, x)
    assert features.shape == (2, head.weight.shape[1])
    new_w, new_b = torch.randn(3, features.shape[1]), torch.randn(3)
    with torch.no_grad():
        logits = extend_head(model, head, new_w, new_b)(x)
    assert torch.allclose(logits[:, 10:], features @ new_w.T + new_b, rtol=1e-4, atol=1e-3)
    if not name.startswith("deit"):  # one input for every branch: the seen logits are exact too
        assert torch.allclose(logits[:, :10], features @ head.weight.T + head.bias, rtol=1e-4, atol=1e-3)


def test_gather_folder_matches_names_loosely(folder):
    support = gather_support(folder, NEW, SEEN)
    assert support.counts(len(NEW)).tolist() == [3, 2, 0]


@pytest.mark.parametrize("make,message", [
    (lambda root: None, "does not exist"),
    (lambda root: (root / "zebra").mkdir(parents=True), "matches none of the new class names"),
    (lambda root: (root / "class_3").mkdir(parents=True), "already has"),
    (lambda root: (root / "okapi").mkdir(parents=True), "has no image files"),
])
def test_gather_folder_errors_name_the_input(tmp_path, make, message):
    make(tmp_path / "photos")
    with pytest.raises(InjectError, match=message):
        gather_support(tmp_path / "photos", NEW, SEEN)


def test_gather_mapping_checks_values():
    assert gather_support({"okapi": [torch.zeros(3, 8, 8)]}, NEW, SEEN).labels.tolist() == [0]
    for bad in ({"okapi": []}, {"okapi": "a.jpg"}, {"zebra": ["a.jpg"]}, {}):
        with pytest.raises(InjectError):
            gather_support(bad, NEW, SEEN)


def test_unusable_photos_become_notes(tmp_path):
    (tmp_path / "broken.jpg").write_text("not an image")
    _noise(tmp_path / "tiny.png", size=8)
    _noise(tmp_path / "fine.png")
    model = small_model()
    forward = lambda batch: head_inputs(model, find_head(model), batch)  # noqa: E731
    paths = [tmp_path / "broken.jpg", tmp_path / "tiny.png", tmp_path / "fine.png"]
    features, used, notes = run_on_photos(model, paths, forward, "test", progress=False, mirrored=True)
    assert used == [2] and features.shape == (1, 2, 512)
    assert len(notes) == 2 and "cannot be read" in notes[0] and "smaller than" in notes[1]


def test_photo_runs_leave_the_callers_model_as_it_was(tmp_path):
    """The CPU run goes channels-last for speed; the model comes back in its layout, trainable, same outputs."""
    for i in range(3):
        _noise(tmp_path / f"{i}.png")
    model = small_model()
    forward = lambda batch: head_inputs(model, find_head(model), batch)  # noqa: E731
    features, _, _ = run_on_photos(model, sorted(tmp_path.iterdir()), forward, "test", batch_size=2, progress=False)
    kernels = [p for p in model.parameters() if p.dim() == 4]
    assert all(p.is_contiguous() and not p.is_inference() for p in kernels)
    batch = torch.stack([image_transform(model)(Image.open(p).convert("RGB")) for p in sorted(tmp_path.iterdir())])
    with torch.no_grad():
        torch.testing.assert_close(features, forward(batch), rtol=1e-4, atol=1e-4)
    model.train()(batch).sum().backward()  # parameters made in inference mode could not be trained
    assert model.fc.weight.grad is not None


def test_large_jpegs_decode_reduced_but_never_below_twice_the_input(tmp_path):
    model = small_model()
    side = draft_side(image_transform(model))
    assert side == 2 * 224
    gradient = np.linspace(0, 255, 2000 * 1500 * 3).reshape(1500, 2000, 3).astype(np.uint8)
    Image.fromarray(gradient).save(tmp_path / "big.jpg")
    Image.fromarray(gradient).save(tmp_path / "big.png")
    reduced = _opened(tmp_path / "big.jpg", side)
    assert reduced.convert("RGB").size == (1000, 750)  # 1/2: 1/4 would be 375 px, under 448
    assert _opened(tmp_path / "big.png", side).convert("RGB").size == (2000, 1500)  # only JPEGs have a draft mode
    assert _opened(tmp_path / "big.jpg", None).convert("RGB").size == (2000, 1500)


def test_prior_directions_move_from_prior_to_photos():
    generator = torch.Generator().manual_seed(0)
    prior, photo = torch.randn(2, 64, generator=generator), torch.randn(64, generator=generator)
    features = photo.expand(50, 64).clone()
    labels = torch.zeros(50, dtype=torch.long)
    one = prior_directions(prior, features[:1], labels[:1])
    many = prior_directions(prior, features, labels)
    target = F.normalize(photo, dim=0)
    assert (many[0] @ target) > (one[0] @ target) > (F.normalize(prior[0], dim=0) @ target)
    assert torch.allclose(many[1], F.normalize(prior[1], dim=0))  # no photos: the prior itself


def test_fit_rows_spans_prior_to_probe():
    generator = torch.Generator().manual_seed(0)
    features, labels = torch.randn(20, 32, generator=generator), torch.arange(20) % 4
    centre = F.normalize(torch.randn(4, 32, generator=generator), dim=1)
    stiff, loose = fit_rows(features, labels, centre, pull=1e4), fit_rows(features, labels, centre, pull=1e-4)
    assert torch.allclose(stiff.weight, centre, atol=1e-2)
    assert loose.logits(features).argmax(1).eq(labels).all()  # 20 points in 32 dimensions are separable


def test_choose_pull_needs_two_photos_of_a_class():
    features, labels = torch.randn(3, 16), torch.arange(3)
    assert choose_pull(features, labels, torch.randn(3, 16)) == (DEFAULT_PULL, None)
    pull, held_out = choose_pull(torch.randn(6, 16), torch.arange(6) % 3, torch.randn(3, 16))
    assert held_out.shape == (6, 3)


def test_inject_with_photos_keeps_seen_logits_and_reports(folder, fake_encoder):
    model = small_model()
    names_only = inject.inject(model, NEW)
    extended = inject.inject(model, NEW, images=folder)
    head, original = find_head(extended), find_head(model)
    assert torch.equal(head.weight[:10], original.weight) and torch.equal(head.bias[:10], original.bias)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():  # a 13-row matmul may round differently from a 10-row one: rows are the invariant
        assert torch.allclose(extended(x)[:, :10], model(x), atol=1e-6)
    record = extended.pretrained_cfg["inject"]
    assert record["calibration"]["method"] == "photos"
    assert record["photos"]["photos"] == 5 and set(record["photos"]["per_class"]) == {"okapi", "quokka"}
    assert "held_out_top1" in record["photos"]["per_class"]["okapi"]
    rows, text = find_head(extended).weight[12], find_head(names_only).weight[12]
    assert torch.equal(rows, text)  # axolotl has no photos: it keeps its text row
    assert not torch.equal(find_head(extended).weight[10], find_head(names_only).weight[10])


def test_cli_images(folder, tmp_path, fake_encoder):
    from inject.api import save_model

    save_model(small_model(), tmp_path / "m.safetensors")
    (tmp_path / "new.txt").write_text("\n".join(NEW))
    result = CliRunner().invoke(main, [str(tmp_path / "m.safetensors"), "--classes", str(tmp_path / "new.txt"),
                                       "--images", str(folder)])
    assert result.exit_code == 0, result.output
    assert "okapi: 3 photos" in result.output
    record = json.loads(read_metadata(tmp_path / "m-injected.safetensors")["inject"])
    assert record["photos"]["photos"] == 5
    bad = CliRunner().invoke(main, [str(tmp_path / "m.safetensors"), "--classes", str(tmp_path / "new.txt"),
                                    "--images", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.safetensors")])
    assert bad.exit_code != 0 and "does not exist" in bad.output


def test_common_component_is_what_the_head_cannot_tell_apart():
    from inject.calibration.photos import common_component

    generator = torch.Generator().manual_seed(0)
    weight, bias = torch.randn(20, 64, generator=generator), torch.randn(20, generator=generator)
    mean = torch.randn(64, generator=generator)
    common = common_component(weight, bias, mean, ridge=1e-6)
    assert (weight @ common + bias).std() < 1e-3 * (weight @ mean + bias).std()
    assert torch.allclose(common_component(weight, bias, common, ridge=1e-6), common, atol=1e-3)  # already common
