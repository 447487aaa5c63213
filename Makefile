# Every target sets up its own virtualenv: a fresh machine needs only python3 and make.
#   make test          ruff, mypy --strict and pytest (warnings are errors) in .venv
#   make test-all      the same on Python 3.11, 3.12 and 3.13, in .venv-3.X
#   make test-lowest   Python 3.11 with every runtime dependency at its lowest allowed version
#   make dist          sdist and wheel in dist/, checked (twine, contents, wheel from sdist)
#   make test-wheel    the suite against the built wheel installed in a fresh .venv-wheel
#   make docs          mkdocs build --strict into site/
# PYTEST_ARGS=--event-loop=uvloop runs the asyncio tests on uvloop.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Set to 1 to pin every runtime dependency to the lower bound pyproject.toml declares.
LOWEST ?=
# Passed on to pytest, e.g. PYTEST_ARGS=--event-loop=uvloop.
PYTEST_ARGS ?=
# The Python of the installed-wheel check.
WHEEL_PYTHON ?= 3.12

SOURCES := async_compositions tests benchmarks .ci $(wildcard examples)
TYPED := async_compositions $(wildcard examples) $(wildcard .ci/*.py)
VERSIONS := 3.11 3.12 3.13

# An interpreter for Python $(1): python$(1) if it runs, else pyenv's build of it (pyenv
# puts a shim for every installed version on PATH but runs only the selected ones).
find_python = $(or $(shell python$(1) -c 'import sys; print(sys.executable)' 2>/dev/null),$(shell p=$$(pyenv prefix $(1) 2>/dev/null) && echo "$$p/bin/python$(1)"),python$(1))

# uv resolves and installs the large test set several times faster than pip.
UV_INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python
PY_VERSION = $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

.PHONY: demo test lint typecheck pytest bench clean test-all $(VERSIONS:%=test-%) \
	test-lowest dist test-wheel docs _dist _docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv

$(STAMP): pyproject.toml | $(BIN)/uv
ifeq ($(LOWEST),1)
	$(BIN)/python .ci/lowest_constraints.py > $(VENV)/lowest-constraints.txt
	$(UV_INSTALL) -e '.[test]' --constraint $(VENV)/lowest-constraints.txt
	$(BIN)/python .ci/lowest_constraints.py --check
else
	$(UV_INSTALL) -e '.[test]'
endif
	touch $@

$(VENV)/.bench-installed: pyproject.toml $(STAMP)
	$(UV_INSTALL) -e '.[test,bench]'
	touch $@

# A tour of both providers against the in-process emulator; nothing leaves 127.0.0.1.
demo: $(STAMP)
	$(BIN)/python -m async_compositions.demo

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

# Checked as the venv's own Python, so each version's standard library stubs are used.
typecheck: $(STAMP)
	$(BIN)/mypy --strict --python-version $(PY_VERSION) --cache-dir $(VENV)/.mypy_cache $(TYPED)

pytest: $(STAMP)
	$(BIN)/python -m pytest -W error -q -o cache_dir=$(VENV)/.pytest_cache $(PYTEST_ARGS)

test: lint typecheck pytest

# The same checks on each supported Python, each in its own .venv-3.X.
test-all: $(VERSIONS:%=test-%)

$(VERSIONS:%=test-%): test-%:
	$(MAKE) --no-print-directory test VENV=.venv-$* PYTHON='$(call find_python,$*)'

# The oldest Python with the oldest runtime dependencies allowed; test tools stay newest.
test-lowest:
	$(MAKE) --no-print-directory test VENV=.venv-lowest LOWEST=1 PYTHON='$(call find_python,3.11)'

# sdist and wheel in dist/, checked by twine and .ci/check_dist.py (which also builds a
# wheel from the unpacked sdist alone and compares it with the one built from the tree).
dist:
	$(MAKE) --no-print-directory _dist VENV=.venv-dist

_dist: $(VENV)/.dist-tools
	rm -rf dist
	$(BIN)/python -m build --installer uv --sdist --wheel --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/python .ci/check_dist.py dist

$(VENV)/.dist-tools: | $(BIN)/uv
	$(UV_INSTALL) 'build[uv]>=1.2' 'twine>=6'
	touch $@

# The wheel from dist/ installed into a fresh virtualenv, tested from the unpacked sdist
# with the package source removed, so only the installed copy can be imported.
test-wheel: dist
	bash .ci/test-installed '$(call find_python,$(WHEEL_PYTHON))' .venv-wheel dist $(PYTEST_ARGS)

docs:
	$(MAKE) --no-print-directory _docs VENV=.venv-docs

_docs: $(VENV)/.docs-installed
	$(BIN)/mkdocs build --strict --site-dir site

$(VENV)/.docs-installed: pyproject.toml | $(BIN)/uv
	$(UV_INSTALL) -e '.[docs]'
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks

clean:
	rm -rf .venv .venv-* dist site .mypy_cache .pytest_cache .ruff_cache
