# Quick start: `make demo` runs a whole failover on the local stack; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MODE ?= failover
PORT ?= 7071
PYTEST_ARGS ?=

.PHONY: bootstrap test lint typecheck unit demo serve infra-check clean bench

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

bootstrap: $(VENV)/.installed node_modules/.installed

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# Tests start what they need themselves (Azurite from node_modules, the ARM emulator, the devstack host).
test: bootstrap lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

demo: bootstrap
	$(PY) -m devstack.demo --mode $(MODE)

serve: bootstrap
	$(PY) -m devstack.stack --port $(PORT)

bench: bootstrap
	$(PY) benchmarks/host_engine.py
	$(PY) benchmarks/blob_backup.py

infra-check:
	bash scripts/check-infra.sh

clean:
	rm -rf $(VENV) node_modules .devstack .mypy_cache .ruff_cache .pytest_cache
