# opendialer: the two commands of the README.
#   make demo   create the virtualenv, install, create the database, run the demo server
#   make test   install the dev tools, lint, type-check and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install dev system-packages lint typecheck pytest clean softphone-js

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps inside the virtualenv: the package is (re)installed only when pyproject.toml changed
# since the last install (the install is editable, so edits under src/ need none), and a new
# virtualenv has no stamps. Order-only on the interpreter: pip's own upgrade must not count.
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev

install: $(INSTALLED)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

dev: $(DEV_INSTALLED)

$(DEV_INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $@ $(INSTALLED)

demo: install
	$(BIN)/opendialer demo

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: dev
	$(BIN)/mypy

# System packages the tests need, installed from Debian when their command is missing:
#   sipp (sip-tester)          plays customers and agents in the SIP backend tests
#   espeak-ng, sox             make the speech that the answering-machine detection hears
#   rtpengine (+ recording daemon, utils)  anchors the SIP tests' media; userspace, no kernel module
#   chromium, chromedriver     the console's browser tests (Playwright drives Debian's Chromium;
#                              its own browser download cannot work here)
#   firefox-esr                the console's Firefox test (marionette_driver, Firefox's own
#                              remote protocol: no geckodriver package exists)
#   kamailio (+ websocket, tls modules)  registrar and WebSocket proxy of the browser phones
SYSTEM_PACKAGES := sipp:sip-tester espeak-ng:espeak-ng sox:sox \
	rtpengine:rtpengine-daemon rtpengine:rtpengine-recording-daemon rtpengine:rtpengine-utils \
	chromium:chromium chromedriver:chromium-driver firefox-esr:firefox-esr \
	kamailio:kamailio kamailio:kamailio-websocket-modules kamailio:kamailio-tls-modules

system-packages:
	@missing="$(foreach entry,$(SYSTEM_PACKAGES),$$(command -v $(firstword $(subst :, ,$(entry))) >/dev/null || echo $(lastword $(subst :, ,$(entry)))))"; \
	if [ -n "$$(echo $$missing)" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi

pytest: dev system-packages
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) opendialer.db opendialer.db-wal opendialer.db-shm

# Rebuild the browser phone's SIP library (src/opendialer/console/static/vendor/jssip.min.js,
# committed) from the pinned packages of web/softphone/package-lock.json: JsSIP bundled by esbuild.
softphone-js:
	cd web/softphone && npm ci --no-audit --no-fund && npm run build
