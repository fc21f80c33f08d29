# Two commands matter: `make demo` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV ?= .venv
SRC := operator tests $(wildcard bench)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
SIZE ?= 50

.PHONY: help venv demo test lint format crds unit e2e bench clean

help:
	@echo "make demo   - run the operator end to end on the embedded sandbox"
	@echo "make test   - lint and run the whole test suite"
	@echo "make bench  - benchmarks (figures printed, never pass/fail)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/twilio-operator demo

lint: venv
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

crds: venv
	$(BIN)/twilio-operator crds --write crds/

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: venv
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

bench: venv
	$(BIN)/python bench/emulator_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cache
