# mecroute: `make help` lists the targets. `make run` and `make test` bootstrap everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PORT ?= 8080

.DEFAULT_GOAL := help
.PHONY: help install run invoke test test-fast lint format zoo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## create .venv from pyproject.toml (pinned versions)

run: $(STAMP) ## serve the local API on 127.0.0.1:8080 (PORT=... to change) with moto and local MEC nodes
	$(BIN)/mecroute serve --port $(PORT)

invoke: $(STAMP) ## one request end to end: make invoke PROMPT="..."
	$(BIN)/mecroute invoke "$(or $(PROMPT),What is the capital of France?)"

test: $(STAMP) ## every test: unit, integration, workflow (ASL offline), e2e, infra
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) ## unit tests only
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## remove the virtualenv, build output and caches
	rm -rf $(VENV) build cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
