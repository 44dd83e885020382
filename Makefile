# mecroute: `make help` lists the targets. `make run` and `make test` bootstrap everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
NODE_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json | sha256sum | cut -c1-12)
# Node tooling (CDK CLI, velocityjs for the API template tests) when npm is there; CI may lack it.
NODE_DEPS := $(if $(shell command -v npm),$(NODE_STAMP))
PORT ?= 8080

.DEFAULT_GOAL := help
.PHONY: help install node run invoke synth test test-fast lint checkov audit openapi format zoo train bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## create .venv from pyproject.toml (pinned versions)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	rm -f node_modules/.installed-* && touch $@

node: $(NODE_STAMP) ## npm ci: the CDK CLI (major 2) and velocityjs; then `npx cdk synth` works too

run: $(STAMP) ## serve the local API on 127.0.0.1:8080 (PORT=... to change) with moto and local MEC nodes
	$(BIN)/mecroute serve --port $(PORT)

invoke: $(STAMP) ## one request end to end: make invoke PROMPT="..."
	$(BIN)/mecroute invoke "$(or $(PROMPT),What is the capital of France?)"

synth: $(STAMP) ## write cdk.out/ offline: layers built locally with pip, no Docker, no AWS account
	CDK_OUTDIR=cdk.out $(BIN)/python app.py

test: $(STAMP) $(NODE_DEPS) ## every test: unit, integration, workflow (ASL offline), e2e, infra
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) ## unit tests only
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP) ## ruff (lint + format check), mypy, bandit (then `make audit` where PyPI's JSON API is reachable)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r src lambdas infra app.py
	@# Tests and benchmarks too, but pytest's asserts, moto's dummy credentials, calls to our own
	@# loopback servers and starting our own processes are how they work (B101 B105 B106 B310
	@# B311 B404 B603 B607); every other check applies.
	$(BIN)/bandit -q -c pyproject.toml -r tests bench -s B101,B105,B106,B310,B311,B404,B603,B607
	$(MAKE) --no-print-directory checkov

# checkov pins boto3 and packaging to versions this project is past, so it lives in its own
# virtualenv under build/ (installed from PyPI on first use), like bench's LiteLLM.
CHECKOV_VERSION := 3.3.30
CHECKOV := build/checkov-$(CHECKOV_VERSION)/bin/checkov
$(CHECKOV):
	$(PYTHON) -m venv build/checkov-$(CHECKOV_VERSION)
	build/checkov-$(CHECKOV_VERSION)/bin/pip install -q checkov==$(CHECKOV_VERSION)

checkov: $(STAMP) $(CHECKOV) ## checkov on the synthesised template; accepted findings carry their reason (infra/checkov.py)
	CDK_OUTDIR=build/checkov-cdk.out $(BIN)/python app.py >/dev/null
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
		-f build/checkov-cdk.out/MecRoute-dev.template.json

audit: $(STAMP) ## pip-audit the installed environment against PyPI's vulnerability data
	@# --strict: a dependency that could not be checked fails the audit; it never passes unaudited.
	@$(BIN)/pip-audit --strict --skip-editable --progress-spinner off || { \
	  echo "pip-audit failed: a vulnerable dependency (listed above), or one it could not check" \
	       "(\"Dependency not found on PyPI\": the vulnerability service is unreachable from here)." >&2; \
	  exit 1; }

openapi: $(STAMP) ## regenerate docs/openapi.json from the pydantic models
	$(BIN)/python -m mecroute.domain.openapi

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

DATA ?= ../shared/data/routellm-mmlu
train: $(STAMP) ## retrain the complexity model on DATA (routellm-mmlu); writes src/mecroute/complexity/
	$(BIN)/pip install --quiet -e '.[train]'
	$(BIN)/python training/train_complexity.py --data $(DATA) --transfer

bench: $(STAMP) ## every benchmark in bench/, budgets table in bench/results/ (10-15 min; first run installs LiteLLM in build/)
	@failed=""; for script in bench/bench_*.py; do echo "== $$script"; \
		$(BIN)/python $$script || failed="$$failed $$script"; done; \
		if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

clean: ## remove the virtualenv, build output and caches
	rm -rf $(VENV) node_modules build cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
