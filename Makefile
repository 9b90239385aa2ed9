# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint typecheck imports system-deps clean migration-regen bytecode
PACKAGES := dsr

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

# Our modules compiled ahead: every process (the service, each pipeline worker, each CLI
# command) would otherwise compile them again where PYTHONDONTWRITEBYTECODE is set.
bytecode: | $(BIN)/python
	@$(BIN)/python -m compileall -q $(PACKAGES) > /dev/null

## run: set up, migrate and start the service on SQLite with the demo controller (kmb2), its demo CRM
## (var/demo-crm-*.sqlite3) and a package key generated once into var/package.key.
run: $(VENV)/.installed bytecode
	DSR_DEMO=$${DSR_DEMO:-true} DSR_WEB_COOKIE_SECURE=$${DSR_WEB_COOKIE_SECURE:-false} $(BIN)/dsr db upgrade
	@mkdir -p var && test -s var/package.key || (umask 077 && $(BIN)/dsr datamap keygen > var/package.key)
	DSR_DEMO=$${DSR_DEMO:-true} DSR_WEB_COOKIE_SECURE=$${DSR_WEB_COOKIE_SECURE:-false} \
	DSR_PACKAGE_KEY=$${DSR_PACKAGE_KEY:-$$(cat var/package.key)} \
	DSR_CRM_KMB2_URL=$${DSR_CRM_KMB2_URL:-sqlite:///./var/demo-crm-kmb2.sqlite3} \
	DSR_CRM_KOMSA_URL=$${DSR_CRM_KOMSA_URL:-sqlite:///./var/demo-crm-komsa.sqlite3} $(BIN)/dsr serve

## system-deps: Debian packages the tests need (Dovecot, Chromium, docker-compose).
system-deps:
	@bash scripts/install-system-deps.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy $(PACKAGES)

## imports: the layer, purity and no-cycle contracts of pyproject.toml [tool.importlinter].
imports: $(VENV)/.installed-test
	$(BIN)/lint-imports

## test: set up, install what the tests need, lint, type-check and run the whole suite.
test: $(VENV)/.installed-test system-deps lint typecheck imports
	$(BIN)/pytest

## bench: classification, deadline and channel benchmarks (figures go into README.md).
bench: $(VENV)/.installed-test system-deps bytecode
	$(BIN)/python -m bench

migration-regen: $(VENV)/.installed
	$(BIN)/python -m dsr.store.migrations.regenerate

clean:
	rm -rf $(VENV) artifacts .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
