# Quick start: `make demo` runs a whole failover on the local stack; `make test` runs every check.
SHELL := /bin/bash
# The app, the devstack and CI all run on Python 3.13 (the version the Flex Consumption app runs in Azure).
PYTHON ?= python3.13
PYTHON_VERSION := 3.13
VENV := .venv
PY := $(VENV)/bin/python
# Stamp named after the Python version: a .venv built by an older Makefile (or another Python) has no such
# stamp, so the recipe below runs, sees the wrong version and rebuilds the venv.
STAMP := $(VENV)/.installed-py$(PYTHON_VERSION)
MODE ?= failover
PORT ?= 7071
PYTEST_ARGS ?=

.PHONY: bootstrap test lint typecheck check-plans unit demo serve infra-check clean bench chaos bench-rto

# Finds a Python $(PYTHON_VERSION) (scripts/find-python.sh: $(PYTHON), else pyenv's newest $(PYTHON_VERSION).x, else a
# clear error) and (re)creates .venv with it when .venv is missing, broken or on another Python version.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml scripts/find-python.sh
	@have="$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"; \
	if [[ "$$have" != "$(PYTHON_VERSION)" ]]; then \
	  base="$$(bash scripts/find-python.sh $(PYTHON_VERSION) $(PYTHON))" || exit 1; \
	  if [[ -e $(VENV) ]]; then echo "$(VENV) is Python $${have:-(broken)}, not $(PYTHON_VERSION): recreating it"; fi; \
	  echo "$$base -m venv $(VENV)"; rm -rf $(VENV) && "$$base" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@# drctl, the operator CLI, as a console script in .venv/bin: this project installed editable, its drctl package
	@# only (pyproject.toml); built by the setuptools pinned above, without build isolation, so without an index.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# The FunctionRpc message classes the devstack hands Microsoft's Python runtime (regenerated on use if
	@# the .proto changes).
	$(PY) -c "from devstack.host.rpc import generate; generate()"
	rm -f $(VENV)/.installed $(VENV)/.installed-py*
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

bootstrap: $(STAMP) node_modules/.installed

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Every plan file in DR_PLANS_DIR (default plans/, as the app reads it) validates as a failover and as a
# drill; a broken one fails with its file, step and key (scripts/check-plans.py).
check-plans: $(STAMP)
	$(PY) scripts/check-plans.py

# Tests start what they need themselves (Azurite from node_modules, the ARM emulator, the devstack host).
test: bootstrap lint typecheck check-plans
	$(PY) -m pytest $(PYTEST_ARGS)

# PLAN=edge-demo: Front Door, its DNS bypass through Traffic Manager and Cosmos DB (MODE=failover|drill).
PLAN ?= shop-demo
demo: bootstrap
	$(PY) -m devstack.demo --mode $(MODE) --plan $(PLAN)

# Your own estate: ESTATE=estate.yaml (devstack/arm/example_estate.yaml's format) PLANS=folder-of-plans
# (devstack/local_estate.py: Azurite accounts by the names the plans use, URLs onto the local app server).
ESTATE ?=
PLANS ?=
serve: bootstrap
	$(PY) -m devstack.stack --port $(PORT) $(if $(ESTATE),--estate $(ESTATE)) $(if $(PLANS),--plans $(PLANS))

bench: bootstrap
	$(PY) benchmarks/host_engine.py
	$(PY) benchmarks/blob_backup.py

# Chaos suite (not part of `make test`): fuzzed alerts, duplicate deliveries, races, injected faults, host
# kills on the local stack, loopback only; prints JSON with targets. CHAOS_ARGS="--only fuzz,races --scale 0.1".
CHAOS_ARGS ?=
chaos: bootstrap
	$(PY) benchmarks/chaos.py $(CHAOS_ARGS)

infra-check:
	bash scripts/check-infra.sh

clean:
	rm -rf $(VENV) node_modules .devstack .mypy_cache .ruff_cache .pytest_cache

# RTO benchmark (not part of `make test`): critical-path ratios, a 50-plan region outage, an unreachable
# source and orchestration overhead on the local stack, with scaled realistic cloud durations; prints JSON
# with targets. RTO_ARGS="--quick" (or "--scale 0.05 --only critical_path").
RTO_ARGS ?=
bench-rto: bootstrap
	$(PY) benchmarks/rto.py $(RTO_ARGS)
