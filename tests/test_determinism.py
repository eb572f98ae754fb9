"""Same inputs and seed -> bit-identical head on CPU, for every registered mapper and for the CLI."""
import hashlib
import json

import pytest
import torch
from click.testing import CliRunner

from inject.checkpoint import write_safetensors
from inject.cli import main
from inject.mappers import create_mapper, list_mappers
from inject.rows import predict_new_rows


def small_problem(seed=0, classes=12, width=24, features=12, new=3):
    """A random head ``[C, D]`` + bias and unit descriptors for its seen and new classes."""
    g = torch.Generator().manual_seed(seed)
    descriptors = torch.nn.functional.normalize(torch.randn(classes + new, features, generator=g), dim=1)
    weight, bias = torch.randn(classes, width, generator=g), torch.randn(classes, generator=g)
    return weight, bias, descriptors[:classes], descriptors[classes:]


# hypernet and icis-paper take seconds in their default configurations (-m slow); short trainings of
# them keep both in the fast lane
SHORT = {"hypernet": {"hidden": 64, "steps": 20}, "icis-paper": {"hidden": 256, "epochs": 30}}
MAPPER_CONFIGS = [pytest.param(name, {}, id=name, marks=[pytest.mark.slow] if name in SHORT else [])
                  for name in list_mappers()] + [pytest.param(name, kwargs, id=f"{name}-short") for name, kwargs in SHORT.items()]


@pytest.mark.parametrize("name,kwargs", MAPPER_CONFIGS)
def test_every_mapper_gives_bit_identical_rows_twice(name, kwargs):
    problem = small_problem()  # 12 classes: one mini-batch per epoch keeps ICIS's training short
    results = []
    for global_seed in (1, 2):  # the global RNG must not matter, only the mapper's own seed
        torch.manual_seed(global_seed)
        results.append(predict_new_rows(*problem, create_mapper(name, **kwargs)))
    first, second = results
    assert torch.equal(first.weight, second.weight) and torch.equal(first.bias, second.bias)
    assert first.gamma == second.gamma


def test_the_cli_writes_byte_identical_files_for_the_same_inputs(tmp_path, fake_encoder):
    weight, bias, _, _ = small_problem(classes=40)
    labels = json.dumps([f"class {i}" for i in range(40)])
    write_safetensors(tmp_path / "model.safetensors", {"fc.weight": weight, "fc.bias": bias}, {"label_names": labels})
    (tmp_path / "new.txt").write_text("okapi\npangolin\nnarwhal\n")
    digests = []
    for run in range(2):
        out = tmp_path / f"out{run}.safetensors"
        result = CliRunner().invoke(main, [str(tmp_path / "model.safetensors"), "--classes", str(tmp_path / "new.txt"),
                                           "-o", str(out), "--quiet"])
        assert result.exit_code == 0, result.output
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]  # tensors and header: safetensors' random key order is sorted away
