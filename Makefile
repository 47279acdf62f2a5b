# The two commands of the README: `make demo` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
VENV_AF2 := .venv-airflow2
AIRFLOW3_SPEC ?= apache-airflow>=3.3.2,<3.4
AIRFLOW2_SPEC ?= apache-airflow>=2.11.0,<2.12
PYTEST_ARGS ?=

.PHONY: demo test test-airflow3 test-airflow2 lint typecheck venv venv-airflow2 docs clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml Makefile $(UV)
	$(UV) venv --quiet --allow-existing --python "$$(command -v $(PYTHON))" $(VENV)
	$(UV) pip install --quiet --python $(VENV)/bin/python -e ".[test,docs]" "$(AIRFLOW3_SPEC)" \
		"apache-airflow-providers-openlineage" "apache-airflow-providers-postgres"
	touch $@

$(VENV_AF2)/.installed: pyproject.toml Makefile $(UV)
	$(UV) venv --quiet --allow-existing --python "$$(command -v $(PYTHON))" $(VENV_AF2)
	$(UV) pip install --quiet --python $(VENV_AF2)/bin/python -e ".[test]" "$(AIRFLOW2_SPEC)"
	touch $@

venv: $(VENV)/.installed
venv-airflow2: $(VENV_AF2)/.installed

demo: venv
	$(VENV)/bin/python scripts/demo.py

lint: venv
	$(VENV)/bin/ruff format --check airflow_dlt_provider tests dags_examples bench scripts
	$(VENV)/bin/ruff check airflow_dlt_provider tests dags_examples bench scripts
	$(VENV)/bin/mypy

test-airflow3: venv
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The real-scheduler tests (pools, concurrency, retries, assets) run on the newest Airflow only: a second
# cluster on Airflow 2.11 would double the suite's time; the 2.11 fixture path is kept and runs with
# `make test-airflow2 AIRFLOW2_MARKERS=`.
AIRFLOW2_MARKERS ?= not scheduler
test-airflow2: venv-airflow2
	$(VENV_AF2)/bin/python -m pytest -m "$(AIRFLOW2_MARKERS)" $(PYTEST_ARGS)

test: lint test-airflow3 test-airflow2

clean:
	rm -rf $(TOOLS) $(VENV) $(VENV_AF2) .demo
