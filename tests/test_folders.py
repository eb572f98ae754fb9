"""Model folders in, folders out: timm and transformers folders, label conventions, Hub ids, shards, save_model.

Every output is loaded back by the real loaders a user would use: ``timm.create_model("local-dir:...")``,
``AutoModelForImageClassification.from_pretrained`` and ``pipeline("image-classification")``.
"""
import hashlib
import json
from pathlib import Path

import pytest
import timm
import torch
from click.testing import CliRunner

import inject
from inject.cli import main

SEEN = [f"class {i}" for i in range(10)]
IDS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331", "n01498041", "n01514668",
       "n01514859", "n01518878"]  # the first ten ImageNet-1K synsets


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def timm_folder(root: Path, labels: list[str] | None = SEEN, descriptions: dict | None = None, classes: int = 10) -> tuple[Path, torch.nn.Module]:
    """A random-weight resnet10t saved by timm's own ``save_for_hf`` (model_args carries num_classes)."""
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", num_classes=classes).eval()
    config = {}
    if labels is not None:
        config["label_names"] = labels
    if descriptions:
        config["label_descriptions"] = descriptions
    timm.models.save_for_hf(model, root, model_config=config, safe_serialization=True)
    return root, model


def vit_folder(root: Path, labels: list[str] = SEEN, shard: str | None = None) -> tuple[Path, torch.nn.Module]:
    """A small random-weight ViT classifier saved by transformers, with its image processor."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, image_size=32,
                       patch_size=8, id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    model = ViTForImageClassification(config).eval()
    model.save_pretrained(root, **({"max_shard_size": shard} if shard else {}))
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(root)
    return root, model


def run_cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def photo(data: Path) -> Path:
    row = (data / "imagenet1k_samples_224" / "labels.csv").read_text().splitlines()[1]
    return data / "imagenet1k_samples_224" / row.split(",")[0]


def pipeline_labels(folder: Path, image: Path, k: int = 1000) -> list[str]:
    from transformers import pipeline

    return [r["label"] for r in pipeline("image-classification", model=str(folder))(str(image), top_k=k)]


def same_seen_logits(original: torch.nn.Module, extended: torch.nn.Module, size: int, seen: int = 10) -> None:
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        before, after = original(x), extended(x)
    before, after = getattr(before, "logits", before), getattr(after, "logits", after)
    assert after.shape[1] > seen
    torch.testing.assert_close(after[:, :seen], before, rtol=0, atol=1e-5)


def test_timm_folder_in_and_out_loads_three_ways(tmp_path, fake_encoder, data):
    source, original = timm_folder(tmp_path / "timm")
    before = digest(source)
    code, output = run_cli(source, "--classes", _write(tmp_path / "new.txt", "okapi\nLaysan albatross\n"), "-q")
    assert code == 0, output
    out = tmp_path / "timm-injected"
    assert digest(source) == before and sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["num_classes"] == 12 and "num_classes" not in config["model_args"]
    assert config["label_names"] == SEEN + ["okapi", "Laysan albatross"] and config["inject"]["injected"] == 2
    assert config["pretrained_cfg"]["classifier"] == "fc" and config["pretrained_cfg"]["num_classes"] == 12
    by_timm = timm.create_model(f"local-dir:{out}", pretrained=True).eval()
    assert by_timm.pretrained_cfg["label_names"][-2:] == ["okapi", "Laysan albatross"]
    same_seen_logits(original, by_timm, 64)
    from transformers import AutoModelForImageClassification

    by_hf = AutoModelForImageClassification.from_pretrained(out).eval()
    assert by_hf.config.id2label[10] == "okapi" and by_hf.config.num_labels == 12
    same_seen_logits(original, by_hf, 64)
    assert set(pipeline_labels(out, photo(data))) == set(SEEN + ["okapi", "Laysan albatross"])


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_timm_folder_with_synset_ids_keeps_ids(tmp_path, fake_encoder, data):
    descriptions = {i: f"description of {i}" for i in IDS}
    source, _ = timm_folder(tmp_path / "ids", IDS, descriptions)
    code, output = run_cli(source, "--classes", _write(tmp_path / "new.txt", "okapi\nZorblax\n"), "-q")
    assert code == 0, output
    config = json.loads((tmp_path / "ids-injected" / "config.json").read_text())
    assert config["label_names"] == IDS + ["n02439398", "Zorblax"]  # okapi's synset; an unknown name keeps its name
    assert config["label_descriptions"]["n02439398"] == "okapi" and config["label_descriptions"][IDS[0]] == descriptions[IDS[0]]
    assert "n02439398" in pipeline_labels(tmp_path / "ids-injected", photo(data))


def test_timm_folder_without_labels_gets_readable_imagenet_names(tmp_path, fake_encoder, data):
    source, _ = timm_folder(tmp_path / "bare", None, classes=1000)
    code, output = run_cli(source, "--classes", _write(tmp_path / "new.txt", "okapi (n02439398)\n"), "-q")
    assert code == 0, output
    from timm.data import ImageNetInfo

    config = json.loads((tmp_path / "bare-injected" / "config.json").read_text())
    assert config["label_names"] == [*ImageNetInfo().label_descriptions(), "okapi (n02439398)"]
    labels = pipeline_labels(tmp_path / "bare-injected", photo(data), k=1001)
    assert "okapi (n02439398)" in labels and "tench, Tinca tinca" in labels and not any(l.startswith("LABEL_") for l in labels)


def test_transformers_folder_in_and_out(tmp_path, fake_encoder, data):
    source, original = vit_folder(tmp_path / "vit")
    before = digest(source)
    code, output = run_cli(source, "--classes", _write(tmp_path / "new.txt", "okapi\n"), "-o", tmp_path / "out", "-q")
    assert code == 0, output
    out = tmp_path / "out"
    assert digest(source) == before
    assert (out / "preprocessor_config.json").read_bytes() == (source / "preprocessor_config.json").read_bytes()
    from transformers import AutoModelForImageClassification

    extended = AutoModelForImageClassification.from_pretrained(out).eval()
    assert extended.config.id2label[10] == "okapi" and extended.config.label2id["okapi"] == 10
    assert extended.config.inject["injected"] == 1
    torch.testing.assert_close(extended.classifier.weight[:10], original.classifier.weight, rtol=0, atol=0)
    same_seen_logits(original, extended, 32)
    assert "okapi" in pipeline_labels(out, photo(data))


def test_sharded_transformers_folder_stays_sharded(tmp_path, fake_encoder):
    source, original = vit_folder(tmp_path / "vit", shard="20KB")
    assert (source / "model.safetensors.index.json").is_file()
    code, output = run_cli(source, "--classes", _write(tmp_path / "new.txt", "okapi\n"), "-q")
    assert code == 0, output
    out = tmp_path / "vit-injected"
    assert (out / "model.safetensors.index.json").is_file() and len(list(out.glob("*.safetensors"))) > 1
    from transformers import AutoModelForImageClassification

    same_seen_logits(original, AutoModelForImageClassification.from_pretrained(out).eval(), 32)


def test_sharded_timm_folder_is_refused_in_one_line(tmp_path, fake_encoder):
    source, _ = timm_folder(tmp_path / "timm")
    weights = source / "model.safetensors"
    weights.rename(source / "model-00001-of-00001.safetensors")
    index = {"metadata": {}, "weight_map": {k: "model-00001-of-00001.safetensors" for k in timm.create_model("resnet10t").state_dict()}}
    (source / "model.safetensors.index.json").write_text(json.dumps(index))
    code, output = run_cli(source, "--classes", _write(tmp_path / "new.txt", "okapi\n"), "-q")
    assert code == 2 and "sharded weights" in output and output.count("\n") == 1


def hub_cache(cache: Path, repo: str, files: Path) -> None:
    """Lay out ``files`` as huggingface_hub's cache holds a downloaded repo: blobs, a snapshot of links, refs/main."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (root / "blobs").mkdir()
    for path in files.iterdir():
        blob = root / "blobs" / hashlib.sha256(path.read_bytes()).hexdigest()
        blob.write_bytes(path.read_bytes())
        (snapshot / path.name).symlink_to(Path("..") / ".." / "blobs" / blob.name)


def test_hub_id_resolves_from_the_local_cache_offline(tmp_path, fake_encoder, monkeypatch):
    source, original = timm_folder(tmp_path / "download")
    hub_cache(tmp_path / "hub", "timm/resnet10t.test", source)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)
    code, output = run_cli("timm/resnet10t.test", "--classes", _write(tmp_path / "new.txt", "okapi\n"), "-q")
    assert code == 0, output
    out = tmp_path / "resnet10t.test-injected"
    assert "base_model: timm/resnet10t.test" in (out / "README.md").read_text()
    same_seen_logits(original, timm.create_model(f"local-dir:{out}", pretrained=True).eval(), 64)
    assert inject.labels(inject.load_model("timm/resnet10t.test")) == SEEN


def test_save_model_writes_a_folder_in_the_models_own_format(tmp_path, fake_encoder):
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", num_classes=10).eval()
    model.pretrained_cfg = {**model.pretrained_cfg, "label_names": SEEN}
    extended = inject.inject(model, ["okapi"])
    inject.save_model(extended, tmp_path / "timm-out")
    reloaded = timm.create_model(f"local-dir:{tmp_path / 'timm-out'}", pretrained=True).eval()
    same_seen_logits(model, reloaded, 64)
    assert inject.labels(inject.load_model(tmp_path / "timm-out"))[-1] == "okapi"
    card = (tmp_path / "timm-out" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: timm\npipeline_tag: image-classification\n") and "| okapi | okapi | n02439398 |" in card
    expected = inject.model_labels.injection_record(extended)["classes"]["okapi"]["expected_top1"]
    assert f"| {expected:.2f} | none |" in card  # the image-free estimate beside "no photos"
    _, vit = vit_folder(tmp_path / "vit")
    inject.save_model(inject.inject(vit, ["okapi"]), tmp_path / "vit-out")
    from transformers import AutoModelForImageClassification

    assert AutoModelForImageClassification.from_pretrained(tmp_path / "vit-out").config.id2label[10] == "okapi"
    assert "library_name: transformers" in (tmp_path / "vit-out" / "README.md").read_text()


def test_a_torchvision_model_has_no_folder_format(tmp_path):
    import torchvision

    with pytest.raises(inject.InjectError, match="neither a timm nor a transformers model"):
        inject.save_model(torchvision.models.resnet18(num_classes=10), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.real
def test_real_demo_model_from_save_for_hf_round_trips(tmp_path, demo_model, data):
    """The real EfficientNet-Lite0 exported by timm's own save_for_hf, which transformers alone cannot load."""
    timm.models.save_for_hf(demo_model, tmp_path / "lite0")
    code, output = run_cli(tmp_path / "lite0", "--classes", _write(tmp_path / "new.txt", "okapi\nLaysan albatross\n"), "-q")
    assert code == 0, output
    out = tmp_path / "lite0-injected"
    same_seen_logits(demo_model, timm.create_model(f"local-dir:{out}", pretrained=True).eval(), 224, seen=1000)
    from transformers import AutoModelForImageClassification

    same_seen_logits(demo_model, AutoModelForImageClassification.from_pretrained(out).eval(), 224, seen=1000)
    labels = pipeline_labels(out, photo(data), k=5)
    assert labels[0] == "tench"  # the first sample photo is a tench, and the real model still says so


def test_photos_of_a_transformers_folder_go_through_its_image_processor(tmp_path, fake_encoder):
    from helpers import noise_folders

    source, _ = vit_folder(tmp_path / "vit")
    (tmp_path / "photos").mkdir()
    photos = noise_folders(tmp_path / "photos", ["okapi", "narwhal"], per_class=2, size=48)
    code, output = run_cli(source, "--classes", _write(tmp_path / "new.txt", "okapi\nnarwhal\n"), "--images", photos, "-q")
    assert code == 0, output
    config = json.loads((tmp_path / "vit-injected" / "config.json").read_text())
    assert config["inject"]["photos"]["photos"] == 4 and config["inject"]["calibration"]["method"] == "photos"
    card = (tmp_path / "vit-injected" / "README.md").read_text()
    assert "| okapi | okapi | n02439398 | exact |" in card and "| 2, " in card
    assert all(f"- {item['message']}" in card for item in config["inject"]["warnings"])
    assert ("## Classes expected to work poorly" in card) == bool(config["inject"]["warnings"])
