# Camp LMS — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
CATALOGS := lms/translations $(wildcard plugins/*/translations)

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

translations: $(VENV)/.installed
	@for catalog in $(CATALOGS); do $(BIN)/pybabel compile --use-fuzzy -q -d $$catalog || exit 1; done

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

test-sqlite: $(VENV)/.installed-test translations
	env -u LMS_DATABASE_URL $(BIN)/pytest

test-postgres: $(VENV)/.installed-test translations
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(POSTGRES_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		LMS_DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest -m "not browser"; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is not reachable at $(POSTGRES_URL); CI needs it." >&2; exit 1; \
	else \
		echo "PostgreSQL is not reachable at $(POSTGRES_URL): skipping the PostgreSQL run."; \
	fi

## make messages: extract strings and update every catalog
messages: $(VENV)/.installed-test
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o lms/translations/messages.pot lms templates
	$(BIN)/pybabel update -i lms/translations/messages.pot -d lms/translations --no-fuzzy-matching

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
