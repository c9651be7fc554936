PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
LOCAL_CLIENT_SCOPES := product.write category.write cluster.write clusterconfig.write

.PHONY: venv run test lint format benchmark

venv: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed since the last install.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The settings refuse the development secret key unless DJANGO_ENV says otherwise.
run test benchmark: export DJANGO_ENV := development

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py create_api_client local --scopes "$(LOCAL_CLIENT_SCOPES)" --if-missing
	BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c config/gunicorn.py config.wsgi:application

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

benchmark: venv
	$(BIN)/python manage.py benchmark
