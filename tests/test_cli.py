"""CLI: bad input is one line on stderr, a non-zero exit, and untouched files."""
import hashlib

import pytest
import timm
from click.testing import CliRunner

from inject import save_model
from inject.cli import main


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
    assert code != 0 and "does not exist" in output
    code, output = run_cli(small_model, "--classes", tmp_path / "none.txt")
    assert code != 0 and "'" in output and "does not exist" in output
    bogus = write(tmp_path / "bogus.safetensors", b"this is not a safetensors file")
    code, output = run_cli(bogus, "--classes", names)
    assert code != 0 and "not a readable safetensors file" in output


def test_seen_names_are_required_without_metadata_and_must_fit(tmp_path):
    from inject.checkpoint import write_safetensors

    bare = tmp_path / "bare.safetensors"
    write_safetensors(bare, timm.create_model("resnet18", num_classes=10).state_dict(), {})
    names = write(tmp_path / "new.txt", "okapi\n")
    code, output = run_cli(bare, "--classes", names)
    assert code != 0 and "--seen-names" in output
    wrong = write(tmp_path / "seen.txt", "a\nb\n")
    code, output = run_cli(bare, "--classes", names, "--seen-names", wrong)
    assert code != 0 and "has 2 names but the head has 10 rows" in output


def test_output_equal_to_input_needs_force(tmp_path, small_model):
    names = write(tmp_path / "new.txt", "okapi\n")
    code, output = run_cli(small_model, "--classes", names, "-o", small_model)
    assert code != 0 and "--force" in output
