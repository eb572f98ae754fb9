"""Names that know what they mean, through the API and the CLI: synsets, descriptions, --explain."""
import json

import pytest
import torch
from click.testing import CliRunner

import inject
from helpers import EVERYDAY, small_model
from inject.checkpoint import read_metadata
from inject.cli import main
from inject.errors import InjectError
from inject.names import split_descriptions

SEEN = EVERYDAY


@pytest.fixture
def model():
    return small_model("resnet18", SEEN)


def test_names_resolve_to_synsets_and_the_choice_is_recorded(model, fake_encoder):
    extended = inject.inject(model, ["okapi", "Crested Auklet", "n02391049", "flibbertigibbet zorp"], gamma=0.0)
    record = extended.pretrained_cfg["inject"]
    assert record["descriptors"] == "knowledge"
    assert record["synsets"]["okapi"] == ["n02439398", "exact"]
    assert record["synsets"]["Crested Auklet"] == ["n02045596", "head noun"]
    assert record["synsets"]["n02391049"] == ["n02391049", "wnid"]
    assert record["synsets"]["flibbertigibbet zorp"] == [None, "none"]  # text alone, never an error
    weights = record["source_weights"]
    assert set(weights) == {"name", "gloss", "hierarchy"} and sum(weights.values()) == pytest.approx(1.0)


def test_names_only_stays_reachable(model, fake_encoder):
    knowledge = inject.inject(model, ["okapi"], gamma=0.0)
    names = inject.inject(model, ["okapi"], gamma=0.0, descriptors="names")
    assert names.pretrained_cfg["inject"]["descriptors"] == "names" and "synsets" not in names.pretrained_cfg["inject"]
    assert not torch.equal(knowledge.fc.weight[-1], names.fc.weight[-1])


def test_descriptions_change_the_new_row_and_bad_ones_are_refused(model, fake_encoder):
    plain = inject.inject(model, ["okapi"], gamma=0.0)
    described = inject.inject(model, ["okapi"], gamma=0.0, descriptions={"okapi": ["a zebra-striped forest giraffe"]})
    assert not torch.equal(plain.fc.weight[-1], described.fc.weight[-1])
    with pytest.raises(InjectError, match="'quokka', which is not one of the new class names"):
        inject.inject(model, ["okapi"], descriptions={"quokka": ["a small wallaby"]})
    with pytest.raises(InjectError, match="must be a list of non-empty strings"):
        inject.inject(model, ["okapi"], descriptions={"okapi": "a forest giraffe"})


def test_names_only_descriptors_use_descriptions_too(model, fake_encoder):
    plain = inject.inject(model, ["okapi", "quagga"], gamma=0.0, descriptors="names")
    described = inject.inject(model, ["okapi", "quagga"], gamma=0.0, descriptors="names",
                              descriptions={"okapi": ["a zebra-striped forest giraffe"]})
    assert described.pretrained_cfg["inject"]["described"] == ["okapi"]
    assert not torch.equal(plain.fc.weight[-2], described.fc.weight[-2])  # okapi: its text was used
    assert torch.equal(plain.fc.weight[:-2], described.fc.weight[:-2])


def test_class_file_lines_give_descriptions():
    names, texts = split_descriptions(["okapi: a forest giraffe", "okapi: striped legs", "zebra", "Cape Verde: x: y"])
    assert names == ["okapi", "zebra", "Cape Verde"]
    assert texts == {"okapi": ["a forest giraffe", "striped legs"], "Cape Verde": ["x: y"]}
    assert split_descriptions(["zebra", "zebra"])[0] == ["zebra", "zebra"]  # a repeated plain line stays a duplicate


def test_cli_reads_descriptions_and_explains(model, fake_encoder, tmp_path):
    source = tmp_path / "model.safetensors"
    inject.save_model(model, source)
    classes = tmp_path / "new.txt"
    classes.write_text("okapi: a forest giraffe with zebra-striped legs\nCrested Auklet\nflibbertigibbet zorp\n")
    result = CliRunner().invoke(main, [str(source), "--classes", str(classes), "-o", str(tmp_path / "o.safetensors"),
                                       "--explain", "-q"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("okapi -> n02439398 (exact): similar to the giraffe") and "| nearest seen: " in lines[0]
    assert lines[1].startswith("Crested Auklet -> n02045596 (head noun)")
    assert lines[2].startswith("flibbertigibbet zorp -> not in WordNet")
    record = json.loads(read_metadata(tmp_path / "o.safetensors")["inject"])
    assert json.loads(read_metadata(tmp_path / "o.safetensors")["label_names"])[-3:] == [
        "okapi", "Crested Auklet", "flibbertigibbet zorp"]
    assert record["synsets"]["okapi"] == ["n02439398", "exact"]


@pytest.mark.slow
def test_the_packaged_embeddings_cover_every_imagenet_text_of_the_default_path(monkeypatch, tmp_path):
    """scripts/build_text_embeddings.py is current: the default path finds every seen text in the package."""
    from inject import assets
    from inject.knowledge.describe import describe_classes
    from inject.semantics import TextEncoder

    def no_encoding():
        raise AssertionError("a seen ImageNet-1K text is missing from inject/data: run scripts/build_text_embeddings.py")

    monkeypatch.setenv("INJECT_CACHE_DIR", str(tmp_path))
    described = describe_classes(assets.imagenet_class_names(), [], TextEncoder(assets.DEFAULT_ENCODER_NAME, no_encoding))
    assert all(part.shape[0] == 1000 for part in described.seen.values())


def test_the_fast_rehearsal_predicts_what_conse_on_combined_descriptors_predicts():
    """weights.rehearse scores candidates from per-source cosines; that must be conse on combine(...) exactly."""
    import torch.nn.functional as F

    from inject.calibration.rules import heldout_split
    from inject.knowledge.describe import Described, combine
    from inject.knowledge.weights import _combined, _split_similarities
    from inject.mappers import create_mapper
    from inject.mappers.conse import neighbour_mean

    generator = torch.Generator().manual_seed(0)
    parts = {s: F.normalize(torch.randn(40, width, generator=generator), dim=1) for s, width in
             [("name", 8), ("gloss", 6), ("hierarchy", 12)]}
    parts["hierarchy"][::7] = 0  # unresolved classes have no hierarchy row
    described = Described([f"c{i}" for i in range(40)], [], [], [], parts, {s: p[:0] for s, p in parts.items()})
    rows = torch.randn(40, 5, generator=generator)
    hidden, kept = heldout_split(40, 0.25, 3)
    weights = (0.2, 0.4, 0.4)
    similarities = _split_similarities(list(parts.values()), hidden, kept)
    fast = neighbour_mean(_combined(similarities, weights), rows[kept], 10, 2.0)
    seen, _ = combine(described, dict(zip(parts, weights)))
    slow = create_mapper("conse", power=2.0).fit(seen[kept], rows[kept]).predict(seen[hidden])
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
