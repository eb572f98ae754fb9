#!/usr/bin/env bash
# Install this project beside AdapterHub's `adapters` in one fresh venv and check that both import.
# The repo's adapters/ folder installs as inject.adapters, so the top-level name `adapters` stays
# AdapterHub's. Needs a few minutes and ~6 GB of disk (torch). Usage: bash scripts/check_adapterhub.sh [VENV]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$(mktemp -d)/venv}"
wheels="$(mktemp -d)"
python3 -m pip wheel --quiet --no-deps --wheel-dir "$wheels" "$root"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet torch==2.14.1 torchvision==0.29.1 adapters==1.3.0 "$wheels"/inject_classes-*.whl
cd "$wheels" && "$venv/bin/python" - <<'PY'
import adapters, inject, inject.adapters, timm

assert hasattr(adapters, "AutoAdapterModel"), adapters.__file__  # AdapterHub's package, not ours
assert hasattr(inject.adapters, "find_head"), inject.adapters.__file__
model = timm.create_model("resnet18", num_classes=4)
model.pretrained_cfg = {**model.pretrained_cfg, "label_names": ["tench", "goldfish", "great white shark", "tiger shark"]}
print("AdapterHub adapters", adapters.__version__, "and inject.adapters import side by side;",
      "injected:", inject.labels(inject.inject(model, ["okapi"], gamma=0.0))[-1])
PY
