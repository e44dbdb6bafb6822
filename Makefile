# Two commands set everything up on a fresh machine with Python 3.11 and pip:
#   make demo   create .venv, install, load the demo street into SQLite, match tomorrow, serve
#   make test   install the dev extras and Debian's chromium (.ci/chromium, as root) and run the
#               whole test suite, the browser tests (tests/e2e) included
#   make test-pg the same, with the API tests also run on a private PostgreSQL (.ci/pg)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-pg pg browser lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/qunbang demo

# PYTHONDONTWRITEBYTECODE is emptied for the tests: pytest then keeps its assertion-rewritten
# modules (hypothesis', schemathesis' and ours) in __pycache__ instead of rewriting them in every
# worker on every run (about 4 s per process). Each test has a time limit (pytest-timeout).
test: $(VENV)/.installed-dev browser
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 2

# Debian's Chromium for tests/e2e (installed via apt when run as root); see .ci/chromium. Without
# it the browser tests skip (or fail under QUNBANG_REQUIRE_BROWSER=1), so a miss is not fatal here.
browser:
	@.ci/chromium >/dev/null || true

# A private PostgreSQL on 127.0.0.1:55432 (installed via apt when run as root); see .ci/pg.
pg:
	.ci/pg up

test-pg: $(VENV)/.installed-dev browser
	QUNBANG_TEST_PG_URL=$$(.ci/pg up) && export QUNBANG_TEST_PG_URL && \
	QUNBANG_REQUIRE_PG=1 PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 2

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check matcher api seeds tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/street_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
