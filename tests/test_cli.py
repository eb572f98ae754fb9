"""CLI: bad input is one line on stderr, a non-zero exit, and untouched files."""
import hashlib
import math
import json

import pytest
import timm
import torch
from click.testing import CliRunner

from inject import save_model
from inject.checkpoint import read_metadata
from inject.cli import main

# Every CLI test that gets as far as encoding names uses the trigram stand-in (tests/conftest.py), never MiniLM.
pytestmark = pytest.mark.usefixtures("fake_encoder")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "resnet18.safetensors"
    model = timm.create_model("resnet18", pretrained=False, num_classes=10)
    model.pretrained_cfg = {**model.pretrained_cfg, "label_names": [f"class {i}" for i in range(10)]}
    save_model(model, path)
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    "classes,message",
    [
        ("\n\n  \n", "has no class names"),
        ("okapi\nOkapi\n", "duplicate new class names: Okapi, okapi"),
        ("okapi\nclass 3\n", "already classes of the model: class 3"),
        (b"okapi\n\xff\xfe\n", "is not UTF-8"),
    ],
    ids=["blank", "duplicates", "already-seen", "not-utf8"],
)
def test_bad_class_files(tmp_path, small_model, classes, message):
    before = digest(small_model)
    classes_file = write(tmp_path / "new.txt", classes)
    code, output = run_cli(small_model, "--classes", classes_file, "-o", tmp_path / "out.safetensors", "--quiet")
    assert code != 0 and message in output and "Traceback" not in output
    assert len(output.strip().splitlines()) == 1
    assert digest(small_model) == before and not (tmp_path / "out.safetensors").exists()


def test_missing_files_and_wrong_formats(tmp_path, small_model):
    names = write(tmp_path / "new.txt", "okapi\n")
    code, output = run_cli(tmp_path / "nope.safetensors", "--classes", names)
    assert code == 2 and output == f"inject-classes: error: model file '{tmp_path / 'nope.safetensors'}' does not exist\n"
    code, output = run_cli(small_model, "--classes", tmp_path / "none.txt")
    assert code == 2 and output == f"inject-classes: error: --classes file '{tmp_path / 'none.txt'}' does not exist\n"
    bogus = write(tmp_path / "bogus.safetensors", b"this is not a safetensors file")
    code, output = run_cli(bogus, "--classes", names)
    assert code == 2 and output.startswith(f"inject-classes: error: model file '{bogus}' is not a readable safetensors file")
    assert len(output.splitlines()) == 1


def test_seen_names_are_required_without_metadata_and_must_fit(tmp_path):
    from inject.checkpoint import write_safetensors

    bare = tmp_path / "bare.safetensors"
    write_safetensors(bare, timm.create_model("resnet18", num_classes=10).state_dict(), {})
    names = write(tmp_path / "new.txt", "okapi\n")
    code, output = run_cli(bare, "--classes", names)
    assert code != 0 and "--seen-names" in output
    wrong = write(tmp_path / "seen.txt", "a\nb\n")
    code, output = run_cli(bare, "--classes", names, "--seen-names", wrong)
    assert code != 0 and "--seen-names file '" + str(wrong) + "' has 2 names but the head has 10 rows" in output


def test_output_equal_to_input_needs_force(tmp_path, small_model):
    names = write(tmp_path / "new.txt", "okapi\n")
    code, output = run_cli(small_model, "--classes", names, "-o", small_model)
    assert code != 0 and "--force" in output


def test_allow_existing_skips_seen_names_with_a_note(tmp_path, small_model):
    names = write(tmp_path / "new.txt", "okapi\nClass 3\n")
    out = tmp_path / "out.safetensors"
    result = CliRunner().invoke(main, [str(small_model), "--classes", str(names), "-o", str(out), "--allow-existing", "-q"])
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == "inject-classes: note: skipped names already among the model's classes: Class 3\n"
    labels = json.loads(read_metadata(out)["label_names"])
    assert labels == [f"class {i}" for i in range(10)] + ["okapi"]


def test_quiet_prints_nothing_and_a_pth_input_gives_a_safetensors_output(tmp_path):
    model = timm.create_model("resnet18", pretrained=False, num_classes=10)
    torch.save(model.state_dict(), tmp_path / "model.pth")
    names, seen = write(tmp_path / "new.txt", "okapi\n"), write(tmp_path / "seen.txt", "\n".join("0123456789"))
    args = [str(tmp_path / "model.pth"), "--classes", str(names), "--seen-names", str(seen)]
    result = CliRunner().invoke(main, [*args, "--quiet"])
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    out = tmp_path / "model-injected.safetensors"
    assert read_metadata(out)["num_classes"] == "11"  # parses as safetensors
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "loud.safetensors")])
    assert result.exit_code == 0 and result.stdout.startswith("injected 1 classes into a 10-class head")


def test_a_failed_write_is_one_line_and_leaves_nothing(tmp_path, small_model, monkeypatch):
    def disk_full(path, tensors, metadata):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("inject.runs.write_safetensors", disk_full)
    names = write(tmp_path / "new.txt", "okapi\n")
    result = CliRunner().invoke(main, [str(small_model), "--classes", str(names), "-o", str(tmp_path / "o.safetensors")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "cannot write output" in result.stderr and "No space left on device" in result.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_usage_errors_are_one_line_and_help_still_works(small_model):
    result = CliRunner().invoke(main, [str(small_model), "--classes", "x.txt", "--mapper", "nope"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("inject-classes: error: Invalid value for '--mapper'")
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "--allow-existing" in result.stdout
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "0.1.0" in result.stdout


def test_class_files_may_have_a_bom_comments_and_blank_lines(tmp_path):
    from inject.names import read_class_file

    path = write(tmp_path / "new.txt", "\ufeffokapi\r\n# a comment\n\n  pangolin  \n")
    assert read_class_file(path) == ["okapi", "pangolin"]


def test_calibration_options_are_recorded(tmp_path, small_model):
    names = write(tmp_path / "new.txt", "okapi\npangolin\n")
    for options, method, gamma in [(["--calibration", "none"], "none", 0.0),
                                   (["--calibration", "prior", "--prior-ratio", "4"], "prior", math.log(4)),
                                   (["--gamma", "2.5"], "fixed", 2.5)]:
        out = tmp_path / f"{method}.safetensors"
        result = CliRunner().invoke(main, [str(small_model), "--classes", str(names), "-o", str(out), "-q", *options])
        assert result.exit_code == 0, result.stderr
        record = json.loads(read_metadata(out)["inject"])
        assert record["calibration"]["method"] == method and record["gamma"] == pytest.approx(gamma)


@pytest.mark.parametrize(
    "options,message",
    [(["--prior-ratio", "-1"], "prior ratio (--prior-ratio) must be a positive finite number"),
     (["--gamma", "1", "--calibrate-images", "."], "give either gamma (--gamma) or calibrate_images (--calibrate-images)"),
     (["--calibrate-images", "no-such-folder"], "calibration image folder 'no-such-folder' does not exist")],
    ids=["bad-prior", "gamma-and-images", "missing-folder"],
)
def test_bad_calibration_options(tmp_path, small_model, options, message):
    names = write(tmp_path / "new.txt", "okapi\n")
    result = CliRunner().invoke(main, [str(small_model), "--classes", str(names), "-o", str(tmp_path / "o.safetensors"), *options])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and message in result.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_unreadable_calibration_image_is_one_line_naming_it(tmp_path, small_model):
    from PIL import Image

    (tmp_path / "photos" / "okapi").mkdir(parents=True)
    Image.new("RGB", (48, 48), "gray").save(tmp_path / "photos" / "okapi" / "good.png")
    (tmp_path / "photos" / "okapi" / "broken.jpg").write_text("not an image")
    names, out = write(tmp_path / "new.txt", "okapi\n"), tmp_path / "out.safetensors"
    result = CliRunner().invoke(main, [str(small_model), "--classes", str(names), "-o", str(out), "-q",
                                       "--calibrate-images", str(tmp_path / "photos")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "broken.jpg: cannot be read as an image" in result.stderr and not out.exists()


def test_calibrate_images_runs_the_model_and_sets_the_offset(tmp_path, small_model):
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for folder in ("class_0", "class 1", "okapi"):
        (tmp_path / "photos" / folder).mkdir(parents=True)
        for i in range(2):
            pixels = (torch.rand(48, 48, 3, generator=g) * 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(tmp_path / "photos" / folder / f"{i}.png")
    names, out = write(tmp_path / "new.txt", "okapi\n"), tmp_path / "out.safetensors"
    before = digest(small_model)
    result = CliRunner().invoke(main, [str(small_model), "--classes", str(names), "-o", str(out), "-q",
                                       "--calibrate-images", str(tmp_path / "photos")])
    assert result.exit_code == 0, result.stderr
    record = json.loads(read_metadata(out)["inject"])["calibration"]
    assert record["method"] == "images" and record["details"]["photos"] == 6 and digest(small_model) == before
