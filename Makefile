PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Two pytest-xdist workers, each with a test database of its own; the tests that start real
# servers stay on one worker (see tests/conftest.py). `make test PYTEST_WORKERS=0` runs serially.
PYTEST_WORKERS ?= 2

.PHONY: venv run test fuzz lint format benchmark

venv: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed since the last install.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The settings refuse the development secret key unless DJANGO_ENV says otherwise.
run test fuzz benchmark: export DJANGO_ENV := development

# One supervisor owns the embedded PostgreSQL and gunicorn: Ctrl-C stops both within seconds.
run: venv
	$(BIN)/python manage.py serve --bind $(HOST):$(PORT) --migrate --local-client local --demo

test: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# A longer fuzzing pass than the test suite's: more examples per operation, the coverage phase
# (boundary values of every parameter) and longer stateful sequences. FUZZ_SEED varies the corner.
FUZZ_EXAMPLES ?= 200
fuzz: venv
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_COVERAGE=1 FUZZ_STEPS=12 $(BIN)/pytest tests/fuzz $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

benchmark: venv
	$(BIN)/python manage.py benchmark
