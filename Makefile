# Everything a newcomer runs, on a machine with only Python 3.10+ and make.
#   make demo   the demo: 20 bird species injected into a real ImageNet model, shown on real photos
#   make test   every test (CI runs exactly this, see .ci/run)
#   make fast   the fast lane (about a minute): small models, a fake text encoder
#   make bench  the benchmark suite, which rewrites docs/results.md (about 90 minutes on 2 cores)
# The first target run makes .venv and installs the pinned torch/torchvision and the package into it;
# later runs reuse it (it is reinstalled only when pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The evaluation photos the demo, the real-asset tests and the benchmarks read (never committed).
export INJECT_DATA ?= $(abspath ../shared/data)

.PHONY: demo test fast bench

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e ".[test,bench]"
	touch $@

demo: $(INSTALLED)
	$(PY) examples/demo.py

# INJECT_TEST_THREADS=0: torch's own thread count, so the bit-exact checks also run multi-threaded kernels.
test: $(INSTALLED)
	INJECT_TEST_THREADS=0 $(PY) -m pytest --durations=15

fast: $(INSTALLED)
	$(PY) -m pytest -m "not slow"

bench: $(INSTALLED)
	$(PY) -m benchmarks.suite --mappers crafted conse icis icis-paper hypernet vmf-gen
