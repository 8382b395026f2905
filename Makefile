# Camp LMS — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
# pytest-xdist: one worker per CPU; a module's tests stay on one worker (shared fixtures).
PYTEST_WORKERS ?= -n auto --dist loadfile
# The slowest tests of each pass, listed at its end: the suite should stay near 15 minutes.
PYTEST_REPORT ?= --durations=15
PLUGIN_PACKAGES := $(patsubst %/__init__.py,%,$(wildcard plugins/*/__init__.py))
EXTRACT = $(BIN)/pybabel -q extract -k _l -k lazy_gettext --project "Camp LMS" --version 0.1.0
UPDATE = $(BIN)/pybabel -q update -l zh_CN --init-missing --no-fuzzy-matching --ignore-pot-creation-date

.PHONY: run test test-sqlite test-postgres lint translations messages bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The bench drives gunicorn, PostgreSQL and Redis as production does: the production extra too.
$(VENV)/.installed-production: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,production]'
	touch $@

## make translations: compile each catalog (core and plugins) whose .mo is missing or stale
translations: $(VENV)/.installed
	$(BIN)/python -m lms.i18n

## make run: install, create instance/ (SQLite, demo content, demo videos) and serve
run: translations
	$(BIN)/lms init
	$(BIN)/lms demo
	$(BIN)/lms run --host $(HOST) --port $(PORT)

## make test: lint, the suite on SQLite, then on PostgreSQL when it is reachable
test: $(VENV)/.installed-test translations lint test-sqlite test-postgres

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test-sqlite: $(VENV)/.installed-test translations
	env -u LMS_DATABASE_URL $(BIN)/pytest $(PYTEST_WORKERS) $(PYTEST_REPORT)

test-postgres: $(VENV)/.installed-test translations
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(POSTGRES_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		LMS_DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest -m "not browser" $(PYTEST_WORKERS) $(PYTEST_REPORT); \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is not reachable at $(POSTGRES_URL); CI needs it." >&2; exit 1; \
	else \
		echo "PostgreSQL is not reachable at $(POSTGRES_URL): skipping the PostgreSQL run."; \
	fi

## make messages: extract strings and update every catalog: the core's (babel.cfg, run from
## the top so its paths match; plugins left out) and each plugin's (plugins/babel.cfg)
messages: $(VENV)/.installed-test
	$(EXTRACT) -F babel.cfg --ignore-dirs '.* ._ plugins' -o lms/translations/messages.pot .
	$(UPDATE) -i lms/translations/messages.pot -d lms/translations
	@for plugin in $(PLUGIN_PACKAGES); do \
		echo "$$plugin"; mkdir -p $$plugin/translations && \
		$(EXTRACT) -F plugins/babel.cfg -o $$plugin/translations/messages.pot $$plugin && \
		$(UPDATE) -i $$plugin/translations/messages.pot -d $$plugin/translations || exit 1; \
	done

## make bench: each hot page's CPU time in one process against hello, with its statements
## (`python -m bench inproc` for those alone), throughput figures against baselines measured
## in the same run (wrk, nginx),
## report timings over 1,000,000 ledger rows (`python -m bench records` for those alone), the
## ingest pipeline against the ffmpeg command line (`python -m bench transcode`) and HLS
## segments through nginx + the app against nginx alone (`python -m bench hls`)
bench: $(VENV)/.installed-production
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk nginx-light >/dev/null; } || \
		echo "bench needs wrk and nginx (apt-get install wrk nginx-light)"
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
