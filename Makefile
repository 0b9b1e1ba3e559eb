# make test: set everything up from nothing (.venv/ with pinned requirements) and run lint + the whole suite.
# make demo: set up, start the embedded Postgres, build the demo catalog and prior on first run, serve the API.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUPYSONIC_VENV := .venv-supysonic
HOST ?= 127.0.0.1
PORT ?= 8000
export XDG_RUNTIME_DIR ?= /tmp/runtime-$(shell id -u)

.PHONY: setup supysonic test lint demo bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# A real Subsonic-API server (Supysonic) for the tests, in its own venv: its Flask/peewee pins stay out of .venv.
$(SUPYSONIC_VENV)/.installed: requirements-supysonic.txt
	test -x $(SUPYSONIC_VENV)/bin/python || $(PYTHON) -m venv $(SUPYSONIC_VENV)
	$(SUPYSONIC_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-supysonic.txt
	touch $@

supysonic: $(SUPYSONIC_VENV)/.installed

lint: setup
	$(VENV)/bin/ruff check .

test: setup supysonic lint
	$(PY) -m pytest -q

demo: setup
	HOST=$(HOST) PORT=$(PORT) $(PY) manage.py demo --host $(HOST) --port $(PORT)

bench: setup
	$(PY) manage.py demo --no-serve --no-progress
	$(PY) bench/catalog.py
	$(PY) bench/prior_speed.py
	$(PY) bench/encoders.py
	$(PY) bench/api.py

clean:
	rm -rf $(VENV) $(SUPYSONIC_VENV) var .pytest_cache .ruff_cache
