# The two commands a newcomer needs: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: demo test install contract clients fuzz

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Installs, migrates a fresh SQLite database, loads the demo data and serves on :8000.
demo: install
	$(BIN)/sessiongraph serve --demo --host 127.0.0.1 --port 8000

# Installs what the tests need and runs them on the engine DATABASE_URL names (SQLite when unset).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
