# The README's two commands: `make quickstart` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: quickstart test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

quickstart: $(VENV)/.installed
	$(BIN)/headway quickstart

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -n 2 --durations=10

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/tracking.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/evaluate.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/monitoring.py
	$(BIN)/python bench/ui.py
	$(BIN)/python bench/pipelines.py

clean:
	rm -rf $(VENV) headway-quickstart .pytest_cache .mypy_cache .ruff_cache
