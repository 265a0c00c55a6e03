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

.PHONY: setup setup-dev run test airflow console bench lock clean

setup: $(STAMP)

# The test tools (pyproject's `dev` dependency group), pinned in requirements-dev.lock.
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

test: setup-dev
	sh tests/ensure_system_packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

airflow: setup
	$(BIN)/pwatch airflow

console: setup
	$(BIN)/pwatch console

bench: setup
	$(BIN)/python -m bench

# Re-resolve the locks after changing dependencies in pyproject.toml: the runtime one, then the
# runtime one plus the `dev` group, constrained to the same pins.
LOCK_TARGET = --python-version 3.11 --python-platform x86_64-unknown-linux-gnu
lock:
	$(BIN)/python -m uv pip compile pyproject.toml -o requirements.lock $(LOCK_TARGET)
	$(BIN)/python -m uv pip compile pyproject.toml --group dev -c requirements.lock -o requirements-dev.lock $(LOCK_TARGET)

clean:
	rm -rf $(VENV) var
