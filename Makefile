# Everything installs itself: `make test` and `make demo` work on a fresh clone.
# Another interpreter or venv: `make test PYTHON=python3.13 VENV=.venv-3.13`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
# The installers are pinned too; uv only resolves the locks (`make lock`), pip installs them.
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
UV_COMPILE := --quiet --universal --python-version 3.10 --generate-hashes --custom-compile-command 'make lock'
# Locks: requirements/connector.lock (the image), dev.lock (make test: + simulator, tests extra),
# demo.lock (make demo: + PyAirbyte). Each holds every package with its hashes, for Python 3.10-3.13.
LOCK := requirements/dev.lock
DEMO_LOCK := requirements/demo.lock

.PHONY: test test-without-recordings lint demo bench clean install image-test lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)

# The locked set first (hash-checked, nothing resolved), then the connector and the simulator themselves
# without dependencies and with the locked setuptools as build backend (no isolated build environment).
$(STAMP): $(BIN)/python $(LOCK) pyproject.toml simulator/pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e ./simulator -e .
	touch $(STAMP)

# PyAirbyte for the demo. Every released PyAirbyte declares Requires-Python <3.13. Its lock is the dev
# lock plus PyAirbyte, moving only the few packages whose versions PyAirbyte caps (rich, protobuf...).
$(DEMO_STAMP): $(STAMP) $(DEMO_LOCK)
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info < (3, 13) else \
		"make demo needs Python 3.10-3.12: PyAirbyte (airbyte) has no release for Python 3.13 yet. " \
		"Try: make demo PYTHON=python3.12 VENV=.venv-3.12")'
	$(BIN)/pip install --quiet --require-hashes -r $(DEMO_LOCK)
	touch $(DEMO_STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# The suite as a clone without the shared recordings runs it: the tests that need them skip and say why.
test-without-recordings: $(STAMP)
	QUALTRICS_RECORDINGS=none $(BIN)/pytest -q

demo: $(DEMO_STAMP)
	AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1 $(BIN)/python -m demo.run

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The Docker image built (buildah, no Docker engine) and run against the simulator; needs root.
image-test: $(STAMP)
	$(BIN)/python -m image_tests.run_image_test

# Re-resolve the locks from pyproject.toml (and the build backend from [build-system]) for Python
# 3.10-3.13; pins already in a lock are kept where they still fit. LOCK_ARGS="--upgrade-package airbyte-cdk"
# moves one package to its newest allowed version, LOCK_ARGS=--upgrade everything (README: Dependencies).
$(BIN)/uv: $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)

lock: $(BIN)/uv
	@mkdir -p requirements
	sed -n 's/^requires = \[\(.*\)\]$$/\1/p' pyproject.toml | tr -d '", ' | tr ',' '\n' \
		| $(BIN)/uv pip compile $(UV_COMPILE) $(LOCK_ARGS) pyproject.toml - -o requirements/connector.lock
	$(BIN)/uv pip compile $(UV_COMPILE) $(LOCK_ARGS) pyproject.toml simulator/pyproject.toml --extra tests \
		-c requirements/connector.lock -o requirements/dev.lock
	# uv prefers the pins of the file it rewrites: seeded with the dev lock, the demo lock keeps its pins
	test -f $(DEMO_LOCK) || cp $(LOCK) $(DEMO_LOCK)
	$(BIN)/uv pip compile $(UV_COMPILE) $(LOCK_ARGS) pyproject.toml simulator/pyproject.toml --extra tests \
		--extra demo -o $(DEMO_LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
