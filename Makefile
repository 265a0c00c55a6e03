# Two commands on a fresh machine: `make run` (set-up + the main job) and `make test`
# (set-up + every test). Set-up is a virtualenv with the locked dependencies.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
DEV_STAMP = $(VENV)/.installed-dev
export UV_PYTHON_DOWNLOADS = never
# Every crawl and task is a fresh Python process: let them reuse compiled bytecode.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup setup-dev run test lint airflow console bench lock clean

setup: $(STAMP)

# Test and lint tools (pyproject's `dev` group, requirements-dev.lock) on top of the runtime set;
# `make run` skips them.
setup-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(BIN)/python -m uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements-dev.lock
	touch $(DEV_STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9
	$(BIN)/python -m uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/python -m uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/pwatch run

# Tests run on three pytest-xdist workers, one group of tests at a time per worker (the groups,
# their order and the scheduler that keeps a group together: tests/conftest.py). Most tests wait
# on subprocesses (crawls, Airflow, Chromium), so three workers keep two cores busy.
PYTEST_ARGS ?= -n 3 --dist loadscope --no-loadscope-reorder

test: lint
	sh tests/ensure_system_packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint, format check and type check; settings in pyproject.toml ([tool.ruff], [tool.mypy]).
# All three run, so one pass shows every finding; any finding fails the target.
lint: setup-dev
	@status=0; \
	$(BIN)/ruff check || status=1; \
	$(BIN)/ruff format --check || status=1; \
	$(BIN)/python tools/typecheck.py || status=1; \
	exit $$status

airflow: setup
	$(BIN)/pwatch airflow

console: setup
	$(BIN)/pwatch console

bench: setup
	$(BIN)/python -m bench

# Re-resolve the locks after changing dependencies in pyproject.toml; the dev lock keeps every
# runtime pin of requirements.lock and adds the `dev` group.
LOCK_TARGET = --python-version 3.11 --python-platform x86_64-unknown-linux-gnu
lock:
	$(BIN)/python -m uv pip compile pyproject.toml -o requirements.lock $(LOCK_TARGET)
	$(BIN)/python -m uv pip compile pyproject.toml --group dev -c requirements.lock -o requirements-dev.lock $(LOCK_TARGET)

clean:
	rm -rf $(VENV) var
