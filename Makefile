# Contributor commands for the ML Platform Kit (the Copier template and the mlcore library).
# `make setup`, `make example`, `make test` are the README's quick start; `.ci/run` runs the same.

VENV ?= .venv
PYTHON := $(VENV)/bin/python
# The CPU build of torch that this kit is tested with; install it first so nothing pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
# Where torch comes from when set, e.g. https://download.pytorch.org/whl/cpu on CI runners.
TORCH_INDEX ?=
EXAMPLE ?= digits-classifier
EXAMPLE_DIR ?= build/examples/$(EXAMPLE)

.DEFAULT_GOAL := help
.PHONY: help setup example test test-fast lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

setup: ## Create .venv with CPU torch, mlcore (editable) and the dev tools
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PYTHON) -m pip install --quiet -e ".[dev]"

example: ## Scaffold examples/$(EXAMPLE).yml from this checkout and train it (embedded MLflow)
	$(PYTHON) examples/scaffold.py $(EXAMPLE) $(EXAMPLE_DIR)
	$(MAKE) -C $(EXAMPLE_DIR) setup train PYTHON=$(abspath $(PYTHON)) \
		PIP_INSTALL_ARGS="--no-deps --no-build-isolation"

test: ## Run every test: mlcore units, then render, install, lint and train generated repos
	$(PYTHON) -m pytest -n 2 --dist loadfile

test-fast: ## Only the quick tests (no generated-project training)
	$(PYTHON) -m pytest -m "not slow"

lint: ## Ruff lint and format check of mlcore, tests and bench
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean: ## Remove build outputs and example projects
	rm -rf build .pytest_cache
