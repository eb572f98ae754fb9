"""Unsorted photos of the new classes (``unlabelled=`` / ``--unlabelled-images``): gathering, clusters, rows, offset, pipeline, CLI."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

import inject
from inject.adapters import find_head
from inject.calibration.pile import pile_gamma
from inject.checkpoint import read_metadata
from inject.cli import main
from inject.errors import InjectError
from inject.mappers import create_mapper
from inject.rows import head_rows
from inject.unlabelled.clusters import balanced_assignment, cluster_labels
from inject.unlabelled.pile import gather_pile
from inject.unlabelled.rehearsal import STRENGTHS, choose_strength
from inject.unlabelled.rows import adapt_rows, pile_rows

from helpers import SEEN, noise_folders, small_model

NEW = ["okapi", "quokka", "axolotl"]


@pytest.fixture(scope="module")
def pile(tmp_path_factory):
    """Twelve noise photos in nested subfolders (names that mean nothing), plus a hidden file and a text file."""
    root = noise_folders(tmp_path_factory.mktemp("pile"), ["day 1", "day 2"], 6)
    (root / "day 2" / "deeper").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(root / "day 2" / "deeper" / "dark.png")
    (root / "._dark.png").write_text("AppleDouble metadata, not an image")
    (root / "notes.txt").write_text("not a photo")
    return root


def test_gather_searches_folders_recursively_and_skips_hidden_and_other_files(pile):
    gathered = gather_pile(pile)
    assert len(gathered.photos) == 13
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in gathered.photos)


def test_gather_takes_lists_and_batches():
    assert len(gather_pile([torch.zeros(3, 32, 32), Image.new("RGB", (32, 32))]).photos) == 2
    assert len(gather_pile(torch.zeros(4, 3, 32, 32)).photos) == 4


@pytest.mark.parametrize("make,message", [
    (lambda root: root / "nowhere", "does not exist"),
    (lambda root: root, "pile is empty"),
    (lambda root: [], "empty list"),
    (lambda root: {"okapi": ["a.jpg"]}, "folder path or a list of photos"),
])
def test_gather_errors_name_the_input(tmp_path, make, message):
    with pytest.raises(InjectError, match=message):
        gather_pile(make(tmp_path))


def test_balanced_assignment_gives_every_class_its_share():
    logits = torch.zeros(12, 3)
    logits[:, 0] = 5.0  # one hub row scores every photo highest
    logits[torch.arange(12), torch.arange(12) % 3] += 1.0
    labels = balanced_assignment(logits)
    assert torch.bincount(labels, minlength=3).tolist() == [4, 4, 4]
    assert labels.eq(torch.arange(12) % 3).all()


def _blobs(classes=3, per=20, dim=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(classes, dim, generator=generator), dim=1) * 4
    labels = torch.arange(classes).repeat_interleave(per)
    return centres[labels] + 0.3 * torch.randn(classes * per, dim, generator=generator), labels, centres


def test_cluster_labels_recover_clusters_from_a_rough_start_and_keep_fixed_labels():
    features, labels, centres = _blobs()
    rough = features @ centres.T + 12 * torch.randn(len(labels), 3, generator=torch.Generator().manual_seed(1))
    assert (rough.argmax(1) == labels).float().mean() < 0.8
    assert cluster_labels(features, rough).eq(labels).all()
    fixed = torch.full_like(labels, -1)
    fixed[:2] = 0  # labelled photos anchor their class; the pile's start is shared among the others
    assert cluster_labels(features, rough, fixed=fixed).eq(labels).all()
    fixed[0] = 2  # a labelled photo keeps its label even against its cluster
    assert cluster_labels(features, rough, fixed=fixed)[0] == 2


def test_held_out_logits_are_those_of_rows_built_without_the_photo():
    from inject.photos.blend import prior_directions

    features, labels, centres = _blobs()
    features = features.abs()
    rows = pile_rows(centres, torch.randn(5, 16), features, labels, strength=2.0)
    keep, own = torch.arange(len(labels)) != 7, labels[7]
    direction = prior_directions(centres, features[keep], labels[keep], 2.0)[own]  # the row's direction without photo 7
    centred = features[7] - features.mean(0)  # rows score features less the pile's mean
    assert torch.allclose(rows.held_out[7, own], centred @ direction * rows.weight[own].norm(), rtol=1e-5)
    others = torch.arange(3) != own
    logits = features[7] @ rows.weight.T + rows.bias
    assert torch.allclose(rows.held_out[7, others], logits[others])
    assert rows.held_out[7, own] < logits[own]  # a photo scores its own row higher than a held-out one


def _seen_head(dim=16, classes=8, seed=3):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(classes, dim, generator=generator), torch.randn(classes, generator=generator) * 0.1


def test_pile_offset_keeps_the_seen_budget():
    weight, bias = _seen_head()
    features, labels, centres = _blobs(dim=16)
    rows = pile_rows(centres, weight, features, labels, 2.0)
    chosen = pile_gamma(head_rows(weight, bias), rows.weight, rows.bias, features, rows.held_out)
    assert chosen.gamma <= chosen.details["seen_bound"]
    assert chosen.details["virtual_seen_kept"] > 0.5


def test_adapt_leaves_seen_photos_in_the_pile_to_the_seen_classes():
    weight, bias = _seen_head()
    features, labels, centres = _blobs(dim=16)
    seen_photos = 6 * F.normalize(weight[:4], dim=1)  # photos the seen head is sure of
    pile = torch.cat([features, seen_photos])
    adapted = adapt_rows(centres, torch.zeros(3), weight, bias, pile, strength=2.0)
    assert adapted.labels[-4:].eq(-1).all()  # left to the seen side, out of every cluster
    logits = seen_photos @ torch.cat([weight, adapted.weight]).T + torch.cat([bias, adapted.bias])
    assert logits.argmax(1).eq(torch.arange(4)).all()


def test_rehearsal_chooses_a_candidate_and_is_deterministic():
    weight, bias = _seen_head(dim=16, classes=40)
    descriptors = weight @ torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    first = choose_strength(create_mapper("conse"), head_rows(weight, bias), descriptors, 5, 30)
    again = choose_strength(create_mapper("conse"), head_rows(weight, bias), descriptors, 5, 30)
    assert first.strength in STRENGTHS and first == again


def test_inject_with_a_pile_keeps_seen_rows_and_records(pile, fake_encoder):
    model = small_model()
    extended = inject.inject(model, NEW, unlabelled=pile)
    head, original = find_head(extended), find_head(model)
    assert head.weight.shape[0] == 13
    assert torch.equal(head.weight[:10], original.weight) and torch.equal(head.bias[:10], original.bias)
    record = extended.pretrained_cfg["inject"]
    assert record["calibration"]["method"] == "unlabelled"
    assert record["unlabelled"]["photos"] == 13 and set(record["unlabelled"]["per_class"]) == set(NEW)
    assert sum(e["pile_photos"] for e in record["unlabelled"]["per_class"].values()) + record["unlabelled"]["left_to_seen"] == 13
    assert record["gamma"] == pytest.approx(record["unlabelled"]["offset"]["gamma"])


def test_labelled_photos_and_a_pile_together(pile, tmp_path, fake_encoder):
    labelled = noise_folders(tmp_path, ["okapi"], 3)
    extended = inject.inject(small_model(), NEW, images=labelled, unlabelled=pile)
    record = extended.pretrained_cfg["inject"]
    assert record["photos"]["per_class"]["okapi"]["photos"] == 3
    assert record["unlabelled"]["labelled_pooled"] == 3 and record["unlabelled"]["photos"] == 13
    assert record["calibration"]["method"] == "unlabelled"


def test_a_list_of_tensors_works_like_a_folder(fake_encoder):
    photos = [torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(i)) for i in range(6)]
    extended = inject.inject(small_model(), NEW, unlabelled=photos)
    assert extended.pretrained_cfg["inject"]["unlabelled"]["photos"] == 6


@pytest.mark.parametrize("options,message", [
    ({"gamma": 1.0}, "not both"),
    ({}, "cannot be read"),
])
def test_api_errors(pile, tmp_path, fake_encoder, options, message):
    broken = noise_folders(tmp_path, ["p"], 2)
    (broken / "p" / "broken.jpg").write_text("not an image")
    with pytest.raises(InjectError, match=message):
        inject.inject(small_model(), NEW, unlabelled=pile if options else broken, **options)


@pytest.fixture
def model_file(tmp_path):
    from inject.api import save_model

    save_model(small_model(), tmp_path / "m.safetensors")
    (tmp_path / "new.txt").write_text("\n".join(NEW))
    return tmp_path


def test_cli_unlabelled_images(pile, model_file, fake_encoder):
    result = CliRunner().invoke(main, [str(model_file / "m.safetensors"), "--classes", str(model_file / "new.txt"),
                                       "--unlabelled-images", str(pile)])
    assert result.exit_code == 0, result.output
    assert "unlabelled: 13 photos" in result.output and "okapi:" in result.output
    record = json.loads(read_metadata(model_file / "m-injected.safetensors")["inject"])
    assert record["unlabelled"]["photos"] == 13


@pytest.mark.parametrize("extra,message", [
    (["--gamma", "1"], "not both"),
    ([], "holds no image files"),
    ([], "cannot be read"),
])
def test_cli_errors_are_one_line(pile, model_file, fake_encoder, extra, message):
    folder = pile
    if message != "not both":
        folder = model_file / "pile"
        folder.mkdir()
        if message == "cannot be read":
            (folder / "broken.jpg").write_text("not an image")
    result = CliRunner().invoke(main, [str(model_file / "m.safetensors"), "--classes", str(model_file / "new.txt"),
                                       "--unlabelled-images", str(folder), "-o", str(model_file / "out.safetensors"), *extra])
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (model_file / "out.safetensors").exists()


@pytest.mark.real
def test_a_pile_of_real_cub_photos_raises_top1_over_names_only(data):
    """10 CUB species; 15 photos of each go unlabelled into the pile, the next 15 test top-1 among the new classes."""
    import csv

    from inject.assets import load_demo_model
    from inject.images import model_logits

    with open(data / "cub_001_050_224" / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    species = sorted({r["class_name"] for r in rows})[:10]
    files = {s: [data / "cub_001_050_224" / r["file"] for r in rows if r["class_name"] == s] for s in species}
    names = [s.split(".", 1)[1].replace("_", " ") for s in species]
    pile = [p for s in species for p in files[s][:15]]
    test = [p for s in species for p in files[s][15:30]]
    truth = torch.arange(10).repeat_interleave(15)
    model = load_demo_model()
    top1 = {}
    for name, options in (("names", {}), ("pile", {"unlabelled": pile})):
        extended = inject.inject(model, names, **options)
        top1[name] = float((model_logits(extended, test, progress=False)[:, 1000:].argmax(1) == truth).float().mean())
    assert top1["pile"] > top1["names"] + 0.02, top1


def test_an_unreadable_file_fails_when_the_pile_is_gathered(tmp_path):
    folder = noise_folders(tmp_path, ["p"], 2)
    (folder / "p" / "broken.jpg").write_text("not an image")
    with pytest.raises(InjectError, match="broken.jpg cannot be read"):
        gather_pile(folder)
    with pytest.raises(InjectError, match="missing.jpg cannot be read"):
        gather_pile([folder / "p" / "0.png", folder / "missing.jpg"])


def test_a_photo_the_model_cannot_take_is_an_error_after_the_run(fake_encoder):
    photos = [torch.rand(3, 64, 64), Image.new("RGB", (8, 8))]
    with pytest.raises(InjectError, match=r"unlabelled photo list: image #2: is 8x8 px, smaller than 16 px"):
        inject.inject(small_model(), NEW, unlabelled=photos)
