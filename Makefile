# Two commands on a fresh machine: `make run` (set-up + the main job) and `make test`
# (set-up + every test). Set-up is a virtualenv with the locked dependencies.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
export UV_PYTHON_DOWNLOADS = never
# Every crawl and task is a fresh Python process: let them reuse compiled bytecode.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup run test airflow console bench lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9
	$(BIN)/python -m uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/python -m uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/pwatch run

test: setup
	sh tests/ensure_system_packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

airflow: setup
	$(BIN)/pwatch airflow

console: setup
	$(BIN)/pwatch console

bench: setup
	$(BIN)/python -m bench

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m uv pip compile pyproject.toml -o requirements.lock --python-version 3.11 --python-platform x86_64-unknown-linux-gnu

clean:
	rm -rf $(VENV) var
