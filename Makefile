# Everything installs itself: `make test` and `make demo` work on a fresh clone.
# Another interpreter or venv: `make test PYTHON=python3.13 VENV=.venv-3.13`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: test test-without-recordings lint demo bench clean install image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The connector, the simulator and the test tools; no PyAirbyte (no test needs it).
$(STAMP): $(BIN)/python pyproject.toml simulator/pyproject.toml
	$(BIN)/pip install --quiet -e ./simulator -e '.[tests]'
	touch $(STAMP)

# PyAirbyte for the demo. Every released PyAirbyte declares Requires-Python <3.13.
$(DEMO_STAMP): $(STAMP)
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info < (3, 13) else \
		"make demo needs Python 3.10-3.12: PyAirbyte (airbyte) has no release for Python 3.13 yet. " \
		"Try: make demo PYTHON=python3.12 VENV=.venv-3.12")'
	$(BIN)/pip install --quiet -e '.[demo]'
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
