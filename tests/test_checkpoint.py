"""Weight files: safe loading (no unpickled code), damaged files refused, atomic writes that survive a kill."""
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors import safe_open

from inject.checkpoint import load_weights, write_safetensors
from inject.errors import InjectError

STATE = {"features.weight": torch.randn(16, 8), "fc.weight": torch.randn(10, 16), "fc.bias": torch.randn(10)}


class RunsCode:
    """Unpickling this would create the folder ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({**STATE, "hook": RunsCode(marker)}, tmp_path / "model.pth")
    with pytest.raises(InjectError, match=r"holds Python objects \(posix.mkdir\).*weights_only=True"):
        load_weights(tmp_path / "model.pth")
    assert not marker.exists()


def test_non_tensor_entries_and_plain_pickles_are_refused(tmp_path):
    torch.save({**STATE, "epoch": 3}, tmp_path / "mixed.pth")
    with pytest.raises(InjectError, match="'.*mixed.pth' is not a state dict of tensors"):
        load_weights(tmp_path / "mixed.pth")
    import pickle

    (tmp_path / "plain.bin").write_bytes(pickle.dumps({"fc.weight": [[1.0]]}, protocol=4))
    with pytest.raises(InjectError, match="is a pickle, which the safe loader"):
        load_weights(tmp_path / "plain.bin")


def test_format_is_read_from_the_content_not_the_name(tmp_path):
    torch.save({"state_dict": STATE}, tmp_path / "torch.safetensors")
    write_safetensors(tmp_path / "safetensors.pth", STATE, {"label_names": "[]"})
    for name in ("torch.safetensors", "safetensors.pth"):
        tensors, _ = load_weights(tmp_path / name)
        assert tensors.keys() == STATE.keys() and all(torch.equal(tensors[k], STATE[k]) for k in STATE)
    assert load_weights(tmp_path / "safetensors.pth")[1]["label_names"] == "[]"


@pytest.mark.parametrize("keep", [0, 5, 8, 100, 0.5, -1], ids=["empty", "5B", "8B", "100B", "half", "last-byte"])
def test_a_truncated_safetensors_file_is_refused(tmp_path, keep):
    write_safetensors(tmp_path / "whole.safetensors", STATE, {})
    data = (tmp_path / "whole.safetensors").read_bytes()
    cut = data[: int(len(data) * keep)] if isinstance(keep, float) else data[:keep]
    (tmp_path / "cut.safetensors").write_bytes(cut)
    with pytest.raises(InjectError, match="'.*cut.safetensors' is not a readable safetensors file"):
        load_weights(tmp_path / "cut.safetensors")


def test_an_error_while_writing_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old contents")

    def disk_full(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("safetensors.torch.save_file", disk_full)
    with pytest.raises(OSError):
        write_safetensors(target, STATE, {})
    assert target.read_bytes() == b"old contents" and os.listdir(tmp_path) == ["model.safetensors"]


def test_equal_inputs_give_byte_identical_files(tmp_path):
    metadata = {f"key {i}": f"value {i} \u00e9\t\x01" for i in range(20)}  # safetensors shuffles these
    for name in ("a.safetensors", "b.safetensors"):
        write_safetensors(tmp_path / name, STATE, metadata)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    assert load_weights(tmp_path / "a.safetensors")[1] == {"format": "pt", **metadata}


def test_written_files_get_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        write_safetensors(tmp_path / "new.safetensors", STATE, {})
        (tmp_path / "old.safetensors").write_bytes(b"old")
        os.chmod(tmp_path / "old.safetensors", 0o640)
        write_safetensors(tmp_path / "old.safetensors", STATE, {})
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.safetensors").stat().st_mode) == 0o644  # not mkstemp's 0o600
    assert stat.S_IMODE((tmp_path / "old.safetensors").stat().st_mode) == 0o640


# The child writes 4 MB with write_safetensors over an existing file, and stops inside the write at a
# chosen point (it prints "stopped" there, then waits); the test kills it at that moment. No sleeps.
CHILD = textwrap.dedent("""
    import sys, time
    import safetensors.torch, torch
    from inject.checkpoint import write_safetensors
    from inject.cli import _sigterm_exits

    where, target = sys.argv[1], sys.argv[2]
    real_save = safetensors.torch.save_file

    def stopping_save(tensors, filename, metadata=None):
        if where == "mid-write":  # half the bytes are on disk
            data = safetensors.torch.save(tensors, metadata=metadata)
            with open(filename, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
        else:  # the whole temp file is written, the rename has not happened
            real_save(tensors, filename, metadata=metadata)
        print("stopped", flush=True)
        time.sleep(120)

    safetensors.torch.save_file = stopping_save
    with _sigterm_exits():
        write_safetensors(target, {"w": torch.arange(1_000_000, dtype=torch.float32)}, {"run": "new"})
""")


@pytest.mark.slow  # a child interpreter that imports torch, per case
@pytest.mark.parametrize(
    "where,sig", [("mid-write", signal.SIGKILL), ("before-rename", signal.SIGKILL), ("mid-write", signal.SIGTERM)],
    ids=["sigkill-mid-write", "sigkill-before-rename", "sigterm-mid-write"],
)
def test_a_killed_write_leaves_the_old_file_intact(tmp_path, where, sig):
    target = tmp_path / "model.safetensors"
    write_safetensors(target, STATE, {"run": "old"})
    old = target.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", CHILD, where, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "stopped"
        child.send_signal(sig)
        code = child.wait(timeout=60)
    finally:
        child.kill()
        child.stdout.close()
    assert target.read_bytes() == old
    with safe_open(str(target), "pt") as f:
        assert f.metadata()["run"] == "old"
    leftovers = sorted(set(os.listdir(tmp_path)) - {"model.safetensors"})
    if sig == signal.SIGTERM:  # the CLI turns SIGTERM into SystemExit: the temp file is removed
        assert code == 128 + signal.SIGTERM and leftovers == []
    else:  # nothing runs after SIGKILL: one hidden temp file is the only trace
        assert code == -signal.SIGKILL
        assert len(leftovers) == 1 and leftovers[0].startswith(".model.safetensors.") and leftovers[0].endswith(".tmp")
