# Every target sets up its own virtualenv: a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(VENV)/.bench-installed: pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# A tour of both providers against the in-process emulator; nothing leaves 127.0.0.1.
demo: $(STAMP)
	$(BIN)/python -m async_compositions.demo

lint: $(STAMP)
	$(BIN)/ruff check async_compositions tests benchmarks
	$(BIN)/ruff format --check async_compositions tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict async_compositions

pytest: $(STAMP)
	$(BIN)/python -m pytest -W error -q

test: lint typecheck pytest

bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
