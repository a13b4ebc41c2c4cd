# HSCN procurement planner: set up, run, test.
#
#   make run    create .venv if needed, install, start the app on the sample data
#   make test   create .venv if needed, install, ruff, then every test
#   make bench  the benchmarks;  make lint  ruff only;  make clean  caches and artefacts
#
# The install is recorded in .venv/.installed, which depends on pyproject.toml,
# so repeated runs do not reinstall until the dependencies change.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: help run test lint bench clean distclean install chromium

help:
	@echo "make run    set up and start the app on the sample data (http://localhost:8501)"
	@echo "make test   set up and run lint and every test"
	@echo "make lint   ruff check ."
	@echo "make bench  python benchmarks/run.py"
	@echo "make clean  remove caches and test artefacts (distclean also removes .venv)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m compileall -q procurement app.py app_pages >/dev/null
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run app.py

# Debian's Chromium for the browser tests. Never fails the build: without it
# the browser test skips and says why.
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    ( export DEBIAN_FRONTEND=noninteractive; \
	      apt-get update && apt-get install -y --no-install-recommends chromium ) \
	    || echo "warning: could not install chromium; the browser test will be skipped" >&2; \
	  else \
	    echo "note: $(CHROMIUM) not found; the browser test will be skipped" >&2; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf test-artefacts .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
