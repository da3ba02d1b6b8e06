# Quick start: `make demo` (set up + run the main job) and `make test` (set up + run the tests).
# Both create or reuse .venv and install everything pinned in constraints.txt (Python 3.11, or
# 3.10 through the environment markers in constraints.txt).
# `make test` also creates or reuses .venv-humble (Python 3.10 + numpy 1.x + constraints-humble.txt,
# the ROS 2 Humble / JetPack 6 stack; tools/humble_env.py) and runs the tests marked torch_free there.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.disdepth-installed
PYTEST_ARGS ?=
HUMBLE_VENV ?= .venv-humble
# HUMBLE=0 skips the second pass (e.g. `make test HUMBLE=0 PYTEST_ARGS=tests/core` while iterating).
HUMBLE ?= 1
# OpenMP threads that spin-wait collapse (10x slower) when the 2 cores are shared with other
# processes (the node, a publisher, pytest workers); passive waiting keeps torch predictable.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup humble-env demo test bench clean-venv

setup: $(STAMP)

$(STAMP): setup.py constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt setuptools wheel
	$(PY) -m pip install --quiet -c constraints.txt -e ".[all,test]"
	@touch $(STAMP)

demo: setup
	$(PY) -m disdepth_cli demo

# Built before the first pass so that a broken Humble install fails fast; the install is redone
# only when constraints*.txt, setup.py or the interpreter changed.
humble-env:
	$(PYTHON) tools/humble_env.py --venv $(HUMBLE_VENV)

ifeq ($(HUMBLE),0)
test: setup
	$(PY) -m pytest $(PYTEST_ARGS)
else
test: setup humble-env
	$(PY) -m pytest $(PYTEST_ARGS)
	$(HUMBLE_VENV)/bin/python -m pytest -m torch_free -p no:cacheprovider $(PYTEST_ARGS) \
		|| { rc=$$?; [ $$rc -eq 5 ] && [ -n "$(PYTEST_ARGS)" ] || exit $$rc; }  # 5: PYTEST_ARGS picked no torch_free test
endif

bench: setup
	$(PY) benchmarks/bench_synthetic.py

clean-venv:
	rm -rf $(VENV) $(HUMBLE_VENV)
