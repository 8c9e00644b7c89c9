# engagement: `make run` serves on http://127.0.0.1:8000, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run migrate test test-postgres bench bench-cost bench-import clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/flask --app wsgi db upgrade

run: migrate
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite against PostgreSQL and Redis (as CI runs it). Both are emptied by the tests:
# point them at a database and a Redis database that hold nothing else. Set them on the
# make command line (an exported REDIS_URL of the shell is deliberately not used here).
PG_URL = postgresql+psycopg://postgres@127.0.0.1:5432/test
REDIS_URL = redis://127.0.0.1:6379/0

test-postgres: install
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks (not part of CI): bench/run.py writes bench/results/<date>-<sha>.md and latest.md.
BENCH_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

bench: install
	command -v wrk >/dev/null 2>&1 || $(SUDO) apt-get install -y wrk || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# What each request costs in Python, in process (no server, no wrk): quick and steady
# enough to compare a change with the commit before it. COST_ARGS=--scenarios counts_20,post_view
COST_ARGS ?=

bench-cost: install
	$(BIN)/python -m bench.cost $(COST_ARGS)

# The import benchmark: a generated 1,000,000-comment Disqus export into an empty SQLite
# database; prints comments/s and peak RSS (docs/scaling.md). IMPORT_BENCH_ARGS=--comments 100000 for a quick run.
IMPORT_BENCH_ARGS ?=

bench-import: install
	$(BIN)/python -m bench.import_rate $(IMPORT_BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
