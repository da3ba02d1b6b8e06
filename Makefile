# Quick start: `make demo` (set up + run the main job) and `make test` (set up + run the tests).
# Both create or reuse .venv and install everything pinned in constraints.txt.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.disdepth-installed
PYTEST_ARGS ?=
# OpenMP threads that spin-wait collapse (10x slower) when the 2 cores are shared with other
# processes (the node, a publisher, pytest workers); passive waiting keeps torch predictable.
export OMP_WAIT_POLICY ?= PASSIVE

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
