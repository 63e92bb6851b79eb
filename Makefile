# Contributor commands for the ML Platform Kit (the Copier template and the mlcore library).
# `make example` and `make test` are the README's quick start (each sets up .venv when it is
# missing or stale); `.ci/run` runs the same two.

VENV ?= .venv
PYTHON := $(VENV)/bin/python
# The CPU build of torch that this kit is tested with; install it first so nothing pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
# Where torch comes from when set, e.g. https://download.pytorch.org/whl/cpu on CI runners.
TORCH_INDEX ?=
EXAMPLE ?= digits-classifier
EXAMPLE_DIR ?= build/examples/$(EXAMPLE)
# Written when .venv holds what pyproject.toml asks for; Make re-runs the set-up when it is older.
SETUP_STAMP := $(VENV)/.mlcore-setup

.DEFAULT_GOAL := help
.PHONY: help setup example test test-fast lint bench clean

help: ## List the targets
	@awk -F':.*## ' '/^[a-z][a-z-]*:.*## / { name[++n] = $$1; text[n] = $$2; \
		if (length($$1) > width) width = length($$1) } \
		END { for (i = 1; i <= n; i++) printf "  %-" width "s  %s\n", name[i], text[i] }' $(MAKEFILE_LIST)

# The environment every other target runs in, made when missing or older than pyproject.toml.
$(SETUP_STAMP): pyproject.toml
	@echo "==> Setting up $(VENV): $(TORCH_SPEC) (CPU build), mlcore (editable), the dev tools"
	@echo "    (a few minutes the first time; later only when pyproject.toml changes)"
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	@echo "==> Installing $(TORCH_SPEC)"
	$(PYTHON) -m pip install --progress-bar off "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	@echo "==> Installing mlcore (editable) and the dev tools"
	$(PYTHON) -m pip install --progress-bar off -e ".[dev]"
	@touch $@
	@echo "==> $(VENV) is ready"

setup: $(SETUP_STAMP) ## Create or refresh .venv (CPU torch, mlcore editable, dev tools); other targets do it too

example: $(SETUP_STAMP) ## Render examples/<EXAMPLE>.yml (digits-classifier) from this checkout and train it
	$(PYTHON) examples/scaffold.py $(EXAMPLE) $(EXAMPLE_DIR)
	$(MAKE) -C $(EXAMPLE_DIR) setup train PYTHON=$(abspath $(PYTHON)) \
		PIP_INSTALL_ARGS="--no-deps --no-build-isolation"

test: lint ## Lint, then every test: mlcore units, then render, install, lint and train generated repos
	$(PYTHON) -m pytest -n 2 --dist loadfile

test-fast: $(SETUP_STAMP) ## Only the quick tests (no generated-project training)
	$(PYTHON) -m pytest -m "not slow"

lint: $(SETUP_STAMP) ## Ruff lint and format check, mypy over mlcore, its import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean: ## Remove build outputs and example projects
	rm -rf build .pytest_cache
