# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: demo test install lint lock contract clients fuzz graphiql node-tools types

# Dependencies come from the lock (requirements/dev.txt: exact versions with their hashes), the
# service itself as an editable install on top.
$(BIN)/.installed: pyproject.toml requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# This checkout mirrors the installed layout: sessiongraph/schema -> ../schema, and so on for each
# folder pyproject.toml maps into sessiongraph (git ignores the links). Python, import-linter and
# mypy then find in the sources the same packages a wheel installs.
MIRRORED = $(shell $(PYTHON) -c "import tomllib; dirs = tomllib.load(open('pyproject.toml', 'rb'))['tool']['setuptools']['package-dir']; print(*(name.replace('.', '/') for name, folder in dirs.items() if name.replace('.', '/') != folder))")
$(MIRRORED):
	ln -sfn ../$(notdir $@) $@

install: $(BIN)/.installed $(MIRRORED)

# Installs, migrates a fresh SQLite database, loads the demo data and serves on :8000.
demo: install
	$(BIN)/sessiongraph serve --demo --host 127.0.0.1 --port 8000

# Installs what the tests need, checks the code (lint), and runs the tests on the engine
# DATABASE_URL names (SQLite when unset).
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff on the whole tree (rules in pyproject.toml), the import layers (import-linter), and mypy.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy -p sessiongraph

# After a change of pyproject.toml's dependencies: the locks, resolved again (pip-tools; needs the
# package index). requirements/service.txt is what the Docker image installs.
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links --strip-extras \
	--allow-unsafe
lock: install
	$(BIN)/pip install --quiet pip-tools
	$(PIP_COMPILE) --extra dev -o requirements/dev.txt pyproject.toml
	$(PIP_COMPILE) -o requirements/service.txt pyproject.toml

# Holds the exported schema against ../shared/DESIGN.md's contract.
contract: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python ../shared/tools/contract_check.py

# After a schema or client-operation change: the committed SDL and trusted-documents manifest
# (tests/test_client_contract.py fails until they are regenerated).
clients: install
	$(BIN)/sessiongraph export-schema > clients/schema.graphql
	$(BIN)/sessiongraph trusted-documents > clients/trusted-documents.json

# Fuzzes the API: generated queries and mutations as anonymous, learner and admin against the demo
# data (CI runs a few hundred examples; this runs FUZZ_EXAMPLES, 5,000 by default).
FUZZ_EXAMPLES ?= 5000
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/test_fuzz.py $(PYTEST_ARGS)

# GraphiQL's files (sessiongraph/server/graphiql/), fetched again from the npm registry at the versions
# and SHA-256 sessiongraph/server/graphiql_vendor.py pins; the committed copies serve it offline.
graphiql: install
	$(BIN)/python -m sessiongraph.server.graphiql_vendor

# The JavaScript tools the client checks run (tools/package.json, exact versions in tools/package-lock.json):
# GraphQL Code Generator and TypeScript for the mobile types, axe-core for the web page's accessibility
# check. `npm ci` again only when the lock changed since the last install.
NODE_TOOLS = tools/node_modules/.installed
$(NODE_TOOLS): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@
node-tools: $(NODE_TOOLS)

# After a change of the schema or of a mobile document: the mobile client's TypeScript types
# (clients/mobile/types/; tests/test_typed_artifacts.py fails until they are regenerated), type-checked
# with their usage file.
types: $(NODE_TOOLS)
	cd tools && node_modules/.bin/graphql-codegen --config codegen.ts --errors-only
	cd tools && node_modules/.bin/tsc -p tsconfig.json
