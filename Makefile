# The two promises: `make run` serves the API on :8000, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck architecture coverage migrate seed clean lock bench-seed

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/shelfmark serve

test: $(STAMP) lint typecheck architecture
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench

typecheck: $(STAMP)
	$(BIN)/mypy src

architecture: $(STAMP)
	$(BIN)/lint-imports

coverage: $(STAMP)
	$(BIN)/python -m pytest -q --cov --cov-report=html:var/coverage --cov-report=term
	@echo "HTML report: var/coverage/index.html"

migrate: $(STAMP)
	$(BIN)/shelfmark migrate

seed: $(STAMP)
	$(BIN)/shelfmark seed --books 1000 --patrons 200

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache

lock:  ## re-resolve every dependency to its newest allowed version and pin it
	rm -rf var/lockenv && $(PYTHON) -m venv var/lockenv
	var/lockenv/bin/pip install --quiet -e '.[dev]'
	{ echo '# Every version the project and its tools run with; regenerate with `make lock`.'; \
	  var/lockenv/bin/pip freeze --exclude-editable; } > constraints.txt

bench-seed: $(STAMP)  ## time `shelfmark seed` for 100k books on SQLite and PostgreSQL
	$(BIN)/python bench/seed.py
