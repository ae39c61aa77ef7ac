# Pagedesk: `make run` to try it, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint bench clean

# Reinstall only when pyproject.toml changes: a second `make run` just starts.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi users create-demo
	@echo "Pagedesk is starting on http://$(HOST):$(PORT) (Ctrl+C stops it)"
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --worker-class gthread --workers 1 --threads 8 \
		--access-logfile - --access-logformat '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms' wsgi:app

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The whole suite on SQLite, then every test that touches the database again on
# PostgreSQL (a throwaway server the suite starts and removes, or TEST_DATABASE_URL).
test: lint
	scripts/install-test-deps
	@status=0; \
	echo "== Tests on SQLite =="; \
	$(BIN)/pytest -q -ra --db sqlite || status=$$?; \
	echo "== Tests on PostgreSQL =="; \
	$(BIN)/pytest -q -ra --db postgresql || status=$$?; \
	exit $$status

bench: $(VENV)/.installed-test
	scripts/bench

clean:
	rm -rf $(VENV) build *.egg-info
