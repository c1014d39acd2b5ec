# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   install, then monitor three example models for 60 days through real Airflow DAGs
#   make test   install, then run the test suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint airflow bench clean

install: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip uninstall --quiet --yes mrm 2>/dev/null || true  # this project's old distribution name
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

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
# rows x 36 columns against the naive Evidently + GX stack (BIG=1: also 20M rows); bench/results.json
bench: install
	$(BIN)/python bench/bench_run.py
	$(BIN)/python bench/bench_scale.py $(if $(BIG),--big)
