# Threadline: `make demo` runs the hub with its sandboxes; `make test` runs the suite.
# Both create .venv with pip and install the project first, on a fresh machine too.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

# The demo runs config/demo.yaml (every connector pointed at the built-in sandboxes)
# on its own SQLite file, started afresh each time.
DEMO_ENV := THREADLINE_CONFIG=config/demo.yaml THREADLINE_DATABASE_URL=sqlite:///var/demo.db

.PHONY: demo test bench bench-full system-check test-sqlite test-postgres lint fmt typecheck check clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	@rm -f var/demo.db var/demo.db-wal var/demo.db-shm
	$(DEMO_ENV) $(BIN)/threadline demo --host 127.0.0.1 --port 8080

test: $(STAMP) system-check lint test-sqlite test-postgres

# The suite needs these system packages; say so instead of skipping browser tests.
system-check:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  echo "make test needs Debian's chromium and chromium-driver for the browser tests:"; \
	  echo "  apt-get install chromium chromium-driver   (.ci/run installs them)"; \
	  exit 1; }

lint: $(STAMP)
	$(BIN)/ruff check .

test-sqlite: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

test-postgres: $(STAMP)
	@$(BIN)/python -m hub.devtools_pg "$(PG_URL)" || { \
	  echo "PostgreSQL is not reachable at $(PG_URL)."; \
	  echo "Start it: pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start"; \
	  exit 1; }
	THREADLINE_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider -m db

# Benchmarks print figures and write bench/reports/latest.{json,md} (quick size by
# default, about 7 minutes here; `make bench-full` for the large sizes).
bench: $(STAMP)
	@$(BIN)/python -m hub.devtools_pg "$(PG_URL)" || { echo "make bench needs PostgreSQL at $(PG_URL)"; exit 1; }
	THREADLINE_BENCH_PG_URL=$(PG_URL) $(BIN)/python -m bench $(BENCH_ARGS)

bench-full: $(STAMP)
	THREADLINE_BENCH_PG_URL=$(PG_URL) $(BIN)/python -m bench --full

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

check: test typecheck

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
