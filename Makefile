# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the project with pinned dependencies first.
# `make bench [ROWS=N] [ARGS="--quick | --pg URL | --memory"]` times the stages (bench/bench_ingest.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv
	# compiled at install: a shell with PYTHONDONTWRITEBYTECODE would otherwise compile every import of every run
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/inkasso demo

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache

bench: $(STAMP)
	$(BIN)/python bench/bench_ingest.py $(if $(ROWS),--rows $(ROWS)) $(ARGS)
