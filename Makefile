# Everything installs itself: `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint demo bench clean install image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml simulator/pyproject.toml
	$(BIN)/pip install --quiet -e ./simulator -e '.[tests,demo]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

demo: $(STAMP)
	AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1 $(BIN)/python -m demo.run

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The Docker image built (buildah, no Docker engine) and run against the simulator; needs root.
image-test: $(STAMP)
	$(BIN)/python -m image_tests.run_image_test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
