# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   install, then monitor three example models for 60 days through real Airflow DAGs
#   make test   install, then run the test suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint airflow bench clean

install: $(STAMP)

# The packages install with uv (pinned below, fetched from PyPI with pip into .venv/uv/, outside the venv's
# own packages, so `pip freeze` is the same either way): it downloads and unpacks in parallel. Where uv
# cannot be had or fails, pip installs the same pinned set (slower). Both compile the bytecode, as pip does.
UV_VERSION := 0.13.9
UV := $(VENV)/uv/bin/uv
PIP_INSTALL := $(BIN)/python -m pip install --quiet
UV_INSTALL := $(UV) pip install --quiet --python $(BIN)/python --compile-bytecode

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(PIP_INSTALL) --upgrade --target $(VENV)/uv uv==$(UV_VERSION) && $(UV) --version >/dev/null \
	  && $(MAKE) --no-print-directory INSTALL='$(UV_INSTALL)' UNINSTALL='$(UV) pip uninstall --quiet --python $(BIN)/python' packages; \
	then :; else echo "uv could not install the packages: installing them with pip"; \
	  $(MAKE) --no-print-directory INSTALL='$(PIP_INSTALL)' UNINSTALL='$(BIN)/python -m pip uninstall --quiet --yes' packages; fi
	touch $(STAMP)

# the venv's packages, with $(INSTALL) and $(UNINSTALL) (set by the install above)
.PHONY: packages
packages:
	$(INSTALL) --upgrade pip
	$(INSTALL) -r requirements.txt -c constraints.txt
	$(UNINSTALL) mrm 2>/dev/null || true  # this project's old distribution name
	$(INSTALL) -c constraints.txt -e '.[dev]'

demo: install
	$(BIN)/mrm demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The Airflow UI on the demo's history: airflow standalone with this repo's dags/ and plugins/,
# passwordless local login. Run `make demo` first.
airflow: install
	$(BIN)/mrm airflow

clean:
	rm -rf .mrm .pytest_cache .ruff_cache

# Speed and memory: a monitoring run of card_fraud at 10k and 100k rows/day, then one run at 1M and 5M
# rows x 36 columns against the naive Evidently + GX stack (BIG=1: also 20M rows), then the bytes the Athena
# pushdown returns per model-day at 100k/1M/5M rows (DuckDB over the same Parquet), then a run including
# performance and CBPE at 1M rows a day (BIG=1: also 5M) and a 30-day back-test at 1M, then the bytes of
# the evidence a run keeps (per run and model-year, 100k and 1M rows a day); bench/results.json
bench: install
	$(BIN)/python bench/bench_run.py
	$(BIN)/python bench/bench_scale.py $(if $(BIG),--big)
	$(BIN)/python bench/bench_pushdown.py --rows 100000 1000000 5000000
	$(BIN)/python bench/bench_outcomes.py $(if $(BIG),--rows 1000000 5000000)
	$(BIN)/python bench/bench_evidence.py --rows 100000 1000000
