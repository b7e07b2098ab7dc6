# Two commands matter: `make run` (start graphsync on its embedded SQLite default)
# and `make test` (the whole suite). Both create ./.venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/graphsync serve

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

# The browser tests (tests/browser) drive Debian's chromium package; install it when it is missing.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

bench: $(STAMP)
	$(BIN)/python bench/api.py
	$(BIN)/python bench/expressions.py

clean:
	rm -rf $(VENV) var
