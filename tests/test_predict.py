"""inject-classes-predict: top-k per photo with WordNet paths, per-class top-1 on a labelled folder, one-line errors."""
from pathlib import Path

from click.testing import CliRunner
from helpers import noise_folders

import inject
from inject.predict import main
from test_folders import SEEN, timm_folder


def run(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_top_k_per_photo_from_a_folder_model(tmp_path, fake_encoder):
    folder, _ = timm_folder(tmp_path / "timm")
    extended = inject.inject(inject.load_model(folder), ["okapi"])
    inject.save_model(extended, tmp_path / "out")
    photos = noise_folders(tmp_path, ["photos"], per_class=2) / "photos"
    code, out, err = run(tmp_path / "out", photos, "-k", "3", "-q")
    lines = out.splitlines()
    assert code == 0 and err == "" and len(lines) == 2 * 4 and lines[0].endswith("0.png")
    labels = {line.split()[1] for line in lines if line.startswith("  ")}
    assert labels <= set(SEEN) | {"okapi", "class"}
    okapi = [line for line in lines if "okapi" in line]
    assert all("[even-toed ungulate > ruminant > giraffe > okapi]" in line for line in okapi)


def test_labelled_folder_gives_per_class_top1_and_confusions(tmp_path, fake_encoder):
    folder, _ = timm_folder(tmp_path / "timm")
    (tmp_path / "photos").mkdir()
    photos = noise_folders(tmp_path / "photos", ["class 1", "class_2"], per_class=3)
    code, out, _ = run(folder, photos, "-q")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "class | photos | top-1 | most often taken for"
    assert [line.split(" | ")[:2] for line in lines[1:3]] == [["class 1", "3"], ["class 2", "3"]]
    assert lines[-1].startswith("top-1 over 6 photos: ")


def test_bad_paths_and_models_are_one_line(tmp_path):
    code, out, err = run(tmp_path / "nope", tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1 and "does not exist" in err
    folder, _ = timm_folder(tmp_path / "timm")
    code, _, err = run(folder, tmp_path / "missing.jpg")
    assert code == 2 and err == f"inject-classes: error: photo '{tmp_path / 'missing.jpg'}' does not exist; give photo files or folders of photos\n"
    (tmp_path / "unknown").mkdir()
    photos = noise_folders(tmp_path / "unknown", ["zebra"], per_class=1)
    code, _, err = run(folder, photos)
    assert code == 2 and "is not a class of the model" in err
