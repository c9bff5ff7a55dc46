# Two commands: `make run` starts everything, `make test` runs the suite.
# Both create .venv and install the project into it on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint openapi constraints screenshots web-vendor clean

# constraints.txt pins the versions the suite last passed with (setup.cfg holds the lower
# bounds); `make constraints` moves them to the newest releases.
$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m mylivelinks.dev run

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/python -m mylivelinks.openapi openapi.yaml

constraints: $(STAMP)
	$(BIN)/python -m pip install --quiet --upgrade -e '.[dev]'
	$(BIN)/python -m pip freeze --exclude-editable > constraints.txt

# PNGs of the web client with live data (the README shows them); needs Debian's chromium.
screenshots: $(STAMP)
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/browser/test_screenshots.py

# Third-party browser code from the npm registry at the exact versions and licences that
# mylivelinks/web/vendor.json records (LiveKit's SDK, for MEDIA_PROVIDER=livekit); needs npm.
web-vendor: $(STAMP)
	$(BIN)/python -m mylivelinks.web.vendor

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
