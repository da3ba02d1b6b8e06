# Quick start: `make demo` (set up + run the main job) and `make test` (set up + run the tests).
# Both create or reuse .venv and install everything pinned in constraints.txt.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.disdepth-installed
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean-venv

setup: $(STAMP)

$(STAMP): setup.py constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt setuptools wheel
	$(PY) -m pip install --quiet -c constraints.txt -e ".[all,test]"
	@touch $(STAMP)

demo: setup
	$(PY) -m disdepth_core.cli demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/bench_synthetic.py

clean-venv:
	rm -rf $(VENV)
