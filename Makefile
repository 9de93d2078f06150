# The two commands of the README. Everything installs into .venv from PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
SDK_VENV := .venv-sdk
STAMP_SDK := $(SDK_VENV)/.installed

.PHONY: run test test-netns lint typecheck pytest install install-dev clean

# Paper trading at any hour, so a newcomer can watch a strategy trade at night (dev only).
run: $(STAMP_RUN)
	ALGO_PAPER_ALWAYS_OPEN=$${ALGO_PAPER_ALWAYS_OPEN:-1} $(BIN)/algo up

test: $(STAMP_DEV) $(STAMP_SDK)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP_DEV)
	$(BIN)/ruff check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

pytest: $(STAMP_DEV) $(STAMP_SDK)
	$(BIN)/pytest

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

# The brokers' official SDKs, for the conformance tests only: they pin old libraries that
# must not leak into the product's environment, so they get a venv of their own and run as
# subprocesses against our fake brokers (tests/sdk/).
$(STAMP_SDK): tests/sdk/requirements.txt
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SDK_VENV)/bin/python -m pip install --quiet -r tests/sdk/requirements.txt
	touch $@

clean:
	rm -rf $(VENV) $(SDK_VENV) .mypy_cache .pytest_cache .ruff_cache

# The suite must not need anything but loopback: run it in a network namespace that has
# only `lo` (needs root or user namespaces).
test-netns: $(STAMP_DEV)
	unshare -n sh -c 'ip link set lo up && $(BIN)/pytest -q'
