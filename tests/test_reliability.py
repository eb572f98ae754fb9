"""Every bad input of docs/reliability.md: one line on stderr, exit 2, nothing written, the doc up to date.

The cases and their input files come from scripts/reliability_table.py, the script that writes the
doc's table by running the real CLI; here they run in-process through click's test runner.
"""
import hashlib
import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from inject.cli import main

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("reliability_table", ROOT / "scripts" / "reliability_table.py")
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)

NEEDS_ENCODER = {"--encoder not available offline", "--encoder folder is not a model"}  # import sentence-transformers
CASES = [
    pytest.param(case, args, id=case, marks=[pytest.mark.real, pytest.mark.slow] if case in NEEDS_ENCODER else [])
    for case, args in table.CASES
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-inputs")
    table.make_inputs(folder)
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file and folder under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize("case,args", CASES)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(inputs, monkeypatch, case, args):
    monkeypatch.chdir(inputs)
    for name, value in table.hub_env(inputs).items():  # huggingface_hub read these at import: set its constants
        monkeypatch.setattr(f"huggingface_hub.constants.{name}", value == "1" if name == "HF_HUB_OFFLINE" else value)
    before = snapshot(inputs)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inject-classes: error: "), result.stderr
    assert snapshot(inputs) == before  # no output, no temp file, inputs untouched, no unpickled code ran
    row = table.table_row(case, args, result.exit_code, table.shown(result.stderr, inputs))
    doc = (ROOT / "docs" / "reliability.md").read_text()
    assert row in doc, "docs/reliability.md is stale: run scripts/reliability_table.py"
