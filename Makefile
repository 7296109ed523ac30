# zkmatch — start here.
#   make setup   install everything missing (.venv, node_modules from the lock file)
#   make demo    set up, then run the main job end to end with progress
#   make test    set up, then run the default (fast) test suite
#   make lint    ruff + mypy
#   make bench   benchmarks; figures go to BENCHMARKS.md
#   make mutate  mutation testing of the circuits (hours; resumable; docs/circuits.md)
#   make setup-cpp  what the opt-in C++ witness generator needs (checks, installs nothing)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
NPM    ?= npm
# Two test processes (pytest-xdist), each test file in one of them (module fixtures, shared
# circuit builds); `make test PYTEST_ARGS=` runs in one process.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: setup setup-cpp demo test test-slow lint bench mutate clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	@# the arkworks prover (optional: where no wheel exists, zkmatch proves with snarkjs)
	@$(PIP) install --quiet --only-binary groth16py -e '.[fast]' || \
	  echo "note: groth16py (the arkworks prover) did not install; proving uses snarkjs" >&2
	@# Ray for distributed proving (optional: without it --ray is a clear error)
	@$(PIP) install --quiet --only-binary ray -e '.[ray]' || \
	  echo "note: ray did not install; --ray (distributed proving) is unavailable" >&2
	@# gmpy2 for the operator's inbox decryption (optional: the pure-Python path gives the same results)
	@$(PIP) install --quiet --only-binary gmpy2 -e '.[gmp]' || \
	  echo "note: gmpy2 did not install; inbox decryption uses Python integers" >&2
	@touch $@

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --ignore-scripts
	@test -x node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil || \
	  (echo "anvil binary missing from node_modules/@foundry-rs/anvil-linux-amd64" >&2; exit 1)
	@touch $@

# circom's C++ witness generator (ZKMATCH_WITNESS=cpp|auto, --witness; docs/proving.md):
# prints the apt line and checks g++, make, nasm, gmp.h, nlohmann/json.hpp; exit 1 if missing.
setup-cpp:
	@PYTHONPATH=. $$(test -x $(PY) && echo $(PY) || echo $(PYTHON)) -m prover.toolchain.witness_cpp

demo: setup
	$(VENV)/bin/zkmatch demo

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-slow: setup
	$(VENV)/bin/pytest -m slow $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check prover cli tests scripts
	$(VENV)/bin/mypy

bench: setup
	$(PY) scripts/bench_crypto.py
	$(PY) scripts/bench_matching.py
	$(PY) scripts/bench_batch.py
	$(PY) scripts/bench_verify.py
	$(VENV)/bin/zkmatch bench

# Every mutant of circuits/lib and Batch against the tests; MUTATE_ARGS="--jobs 2", "--file
# lib/FeeFloor.circom", "--survivors" (results: build/mutation/results.jsonl).
MUTATE_ARGS ?=
mutate: setup
	$(PY) scripts/mutate.py --check-hints
	$(PY) scripts/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf .zkmatch/build
