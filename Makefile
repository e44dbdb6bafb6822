# Two commands set everything up on a fresh machine with Python 3.11 and pip:
#   make demo   create .venv, install, load the demo street into SQLite, match tomorrow, serve
#               (and, as root, install Debian's fonts-noto-cjk for the certificate: .ci/fonts)
#   make test   install the dev extras and Debian's chromium (.ci/chromium, as root) and run the
#               whole test suite, the browser tests (tests/e2e) included
#   make test-pg the same, with the API tests also run on a private PostgreSQL (.ci/pg)
# Every install takes the versions in constraints.txt (those the tests last passed with); a
# change to it or to pyproject.toml re-installs. make lock rewrites it with the newest versions
# pyproject.toml allows (README: "Dependencies").
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet -c constraints.txt

.PHONY: demo test test-pg pg browser fonts lint bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e ".[dev]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed fonts
	$(BIN)/qunbang demo

# PYTHONDONTWRITEBYTECODE is emptied for the tests: pytest then keeps its assertion-rewritten
# modules (hypothesis', schemathesis' and ours) in __pycache__ instead of rewriting them in every
# worker on every run (about 4 s per process). Each test has a time limit (pytest-timeout).
# --dist loadgroup: the Ray tests run in one test process (tests/conftest.py, RAY_GROUP), every
# other test goes to whichever process is free, one at a time, slow ones first.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 2 --dist loadgroup
test: $(VENV)/.installed-dev browser fonts
	$(PYTEST)

# Debian's Chromium for tests/e2e (installed via apt when run as root); see .ci/chromium. Without
# it the browser tests skip (or fail under QUNBANG_REQUIRE_BROWSER=1), so a miss is not fatal here.
browser:
	@.ci/chromium >/dev/null || true

# A Chinese font for the certificate PDF (Debian's fonts-noto-cjk via apt when run as root); see
# .ci/fonts. Without it Qunbang still runs, and printing a certificate says what to install.
fonts:
	@.ci/fonts >/dev/null || true

# A private PostgreSQL on 127.0.0.1:55432 (installed via apt when run as root); see .ci/pg.
pg:
	.ci/pg up

test-pg: $(VENV)/.installed-dev browser fonts
	QUNBANG_TEST_PG_URL=$$(.ci/pg up) && export QUNBANG_TEST_PG_URL && \
	QUNBANG_REQUIRE_PG=1 $(PYTEST)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check matcher api seeds tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/street_bench.py

# Install everything pyproject.toml names (dev extras included) at the newest versions it allows
# into a scratch venv, and write what landed there to constraints.txt; then run make test.
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip && \
	"$$tmp/venv/bin/python" -m pip install --quiet -e ".[dev]" && \
	{ echo "# Versions make test last passed with; written by make lock (README: Dependencies)."; \
	  "$$tmp/venv/bin/python" -m pip freeze --all --exclude-editable \
	    | grep -v -e '^setuptools==' -e '^wheel=='; } > "$$tmp/constraints.txt" && \
	mv "$$tmp/constraints.txt" constraints.txt
	@echo "constraints.txt: $$(grep -c '==' constraints.txt) pins"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# The catalogs (api/i18n/locales): extract every message id of the code and the page templates,
# then add new ids to each catalog (untranslated: tests/api/test_i18n.py fails until they are).
# A new language: make i18n-init LOCALE=mn, translate api/i18n/locales/mn/LC_MESSAGES/messages.po.
i18n: $(VENV)/.installed-dev
	mkdir -p var
	$(BIN)/pybabel --quiet extract -F api/i18n/babel.cfg -k pgettext:1c,2 -k N_ -k lazy -k label_id:1c,2 -o var/messages.pot .
	$(BIN)/pybabel --quiet update -i var/messages.pot -d api/i18n/locales --no-fuzzy-matching -w 100

i18n-init: i18n
	$(BIN)/pybabel init -i var/messages.pot -d api/i18n/locales -l $(LOCALE) -w 100
