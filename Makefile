# `make demo` and `make test` each set up .venv when it is missing or stale, then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint wheel-smoke install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip uninstall -q -y zoo 2>/dev/null || true  # the distribution's name before zoo-denoise
	$(BIN)/python -m pip install -q -e ".[dev,onnx]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/zoo list
	$(BIN)/zoo bench mwrcanet

# First ruff (seconds); then mypy (tests/typecheck.py, 1-2 minutes without its cache) beside the
# install check, which is mostly pip and one process at a time: the wheel, installed with no extras
# into a fresh virtualenv outside the checkout, runs every command from another folder
# (tests/wheel_smoke.py, a few minutes); then the suite in .venv with all extras, on every core
# (pytest-xdist, each test file on one worker: its module fixtures are built once). The suite's
# summary stays the last lines.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python tests/typecheck.py & typecheck=$$!; \
	$(BIN)/python tests/wheel_smoke.py; smoke=$$?; \
	wait $$typecheck && test $$smoke -eq 0
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# ruff over the checkout (seconds), mypy over the package (tests/typecheck.py; about 1-2 minutes on
# 2 cores without its cache in build/mypy-cache, seconds with it).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python tests/typecheck.py

wheel-smoke: $(STAMP)
	$(BIN)/python tests/wheel_smoke.py

clean:
	rm -rf $(VENV) *.egg-info
