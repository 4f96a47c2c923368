# Two commands for a newcomer: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit install browser clean soak fuzz test-under-load

# (Re)install whenever the project metadata changes; otherwise reuse the venv.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The till against an embedded demo store: seeded data, printer and scanner simulators.
demo: $(STAMP)
	$(BIN)/till demo --data .demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Debian's Chromium for the dashboard's browser tests (installed when missing and allowed).
browser:
	@.ci/ensure-chromium

# worksteal: idle workers take tests queued on busy ones, so the few long tests do not leave one
# core waiting at the end.
unit: $(STAMP) browser
	$(BIN)/pytest -n auto --dist worksteal

test: lint typecheck unit

# The tests as `make test` runs them, beside stress-ng keeping every core busy: proof that no
# test depends on the machine being fast. Skipped, saying so, when stress-ng is not installed.
test-under-load: $(STAMP) browser
	.ci/test-under-load $(ARGS)

# Longer proofs than `make test` runs (it runs a slice of each), with figures printed:
# ≥ 1,000 injected faults (server and till SIGKILLs, cut/stalled/garbled connections,
# duplicated/reordered/replayed batches, PostgreSQL restarts, two replicas) on both databases.
soak: $(STAMP)
	$(BIN)/python -m bench.soak --faults 1000 --db both

# schemathesis over the whole OpenAPI as every kind of caller (no token, till, viewer,
# manager, admin) on SQLite and PostgreSQL, with 100 examples an operation: 0 server errors,
# 0 schema violations. PostgreSQL: LOYALTILL_TEST_PG (default: this machine's local server).
LOYALTILL_TEST_PG ?= postgresql://postgres@127.0.0.1:5432/test
fuzz: $(STAMP)
	LOYALTILL_TEST_PG=$(LOYALTILL_TEST_PG) $(BIN)/python -m tests.server.api_fuzz --examples 100

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis .demo
