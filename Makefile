# opendialer: the two commands of the README.
#   make demo   create the virtualenv, install, create the database, run the demo server
#   make test   install the dev tools, lint, type-check and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install dev sipp chromium lint typecheck pytest clean migration

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,bench]"

demo: install
	$(BIN)/opendialer demo

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: dev
	$(BIN)/mypy

# SIPp plays customers and agents in the SIP backend tests (Debian package sip-tester).
sipp:
	@command -v sipp >/dev/null || (apt-get update -qq && apt-get install -y -qq sip-tester)

# The agent console's browser tests drive Debian's Chromium through Playwright (its own
# browser download cannot work here): tests/console/browser.py.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

pytest: dev sipp chromium
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) opendialer.db opendialer.db-wal opendialer.db-shm

# Regenerate the initial migration from the models (before the first release only).
migration: dev
	rm -f src/opendialer/migrations/versions/*.py /tmp/opendialer-migration.db
	$(BIN)/python -c "from opendialer.migrate import make_revision; make_revision('sqlite:////tmp/opendialer-migration.db', 'initial schema')"
	$(BIN)/ruff format src/opendialer/migrations/versions
