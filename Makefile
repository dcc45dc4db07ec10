# Two-command quickstart: `make demo` (set up, run the main job) and `make test` (set up, run the tests).
# Setup makes .venv, installs the CPU build of torch first, then the project in editable mode.
# GPU users: `make setup TORCH=torch` (or your CUDA build's pip spec) before anything else.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
# The test run spreads over one worker process per logical CPU (pytest-xdist); `make test TEST_WORKERS=0` runs serially.
TEST_WORKERS ?= logical
PY := $(VENV)/bin/python

.PHONY: setup demo test test-slow bench lint
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(PY) -m titans.core.demo
	$(VENV)/bin/titans run forecast-demo
	$(VENV)/bin/titans run genomics-demo
	$(VENV)/bin/titans run language-demo

test: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS)

test-slow: setup
	$(PY) -m pytest -q -m slow

bench: setup
	$(PY) benchmarks/memory_throughput.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
