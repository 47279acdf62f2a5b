# The two commands of the README: `make demo` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
VENV_AF2 := .venv-airflow2
VENV_OLDEST := .venv-oldest
VENV_PY313 := .venv-py313
AIRFLOW3_SPEC ?= apache-airflow>=3.3.2,<3.4
AIRFLOW2_SPEC ?= apache-airflow>=2.11.0,<2.12
# The oldest declared pair: the oldest Airflow 2.x minor pyproject allows (2.10) at its latest patch, and
# exactly the dlt floor of pyproject's `dependencies` (read from there, so the two cannot drift apart).
# universal-pathlib as Airflow 2.10.5's constraints file pins it (0.2.6): its ObjectStoragePath (the package
# store) refuses every URL with universal-pathlib 0.3, which Airflow 2.10 itself does not exclude.
AIRFLOW_OLDEST ?= 2.10.5
DLT_FLOOR := $(shell sed -nE 's/^ *"dlt>=([0-9.]+),.*/\1/p' pyproject.toml)
PYTEST_ARGS ?=
# Python 3.13 as MWAA's Airflow 3.1 images run it: pyenv's interpreter (the same on CI), Airflow 3.1.6 under
# the constraints file of MWAA's 3.1.6 image with the edits the MWAA guide lists (tests/system/install/mwaa_edits.json),
# so this stage is also the one real install of a documented edit (and of a common-compat without every name).
PYTHON_313 ?= $(or $(lastword $(sort $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13))),python3.13)
AIRFLOW_PY313 ?= 3.1.6

.PHONY: demo test test-airflow3 test-airflow2 test-oldest test-py313 test-faults install-matrix lint typecheck venv \
	venv-airflow2 venv-oldest venv-py313 docs clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml Makefile $(UV)
	$(UV) venv --quiet --allow-existing --python "$$(command -v $(PYTHON))" $(VENV)
	$(UV) pip install --quiet --python $(VENV)/bin/python -e ".[test,docs]" "$(AIRFLOW3_SPEC)" \
		"apache-airflow-providers-openlineage" "apache-airflow-providers-postgres" \
		"apache-airflow-providers-celery" "celery[redis]>=5.5,<5.7"
	touch $@

$(VENV_AF2)/.installed: pyproject.toml Makefile $(UV)
	$(UV) venv --quiet --allow-existing --python "$$(command -v $(PYTHON))" $(VENV_AF2)
	$(UV) pip install --quiet --python $(VENV_AF2)/bin/python -e ".[test]" "$(AIRFLOW2_SPEC)" "billiard"
	touch $@

$(VENV_OLDEST)/.installed: pyproject.toml Makefile $(UV)
	@test -n "$(DLT_FLOOR)" || { echo 'no "dlt>=X.Y.Z,<2" line in pyproject.toml dependencies' >&2; exit 1; }
	$(UV) venv --quiet --allow-existing --python "$$(command -v $(PYTHON))" $(VENV_OLDEST)
	$(UV) pip install --quiet --python $(VENV_OLDEST)/bin/python -e ".[test]" \
		"apache-airflow==$(AIRFLOW_OLDEST)" "dlt[duckdb,postgres,sql_database,parquet]==$(DLT_FLOOR)" \
		"universal-pathlib<0.3"
	touch $@

$(VENV_PY313)/.installed: pyproject.toml Makefile tests/system/install/mwaa_edits.json $(UV)
	@test -x "$(PYTHON_313)" || { echo "no Python 3.13 at $(PYTHON_313) (pyenv); set PYTHON_313=" >&2; exit 1; }
	$(UV) venv --quiet --allow-existing --python "$(PYTHON_313)" $(VENV_PY313)
	$(PYTHON) tests/system/install/install_matrix.py --constraints $(AIRFLOW_PY313) > $(VENV_PY313)/constraints.txt
	$(UV) pip install --quiet --python $(VENV_PY313)/bin/python -c $(VENV_PY313)/constraints.txt -e ".[test]" \
		"apache-airflow==$(AIRFLOW_PY313)"
	touch $@

venv: $(VENV)/.installed
venv-airflow2: $(VENV_AF2)/.installed
venv-oldest: $(VENV_OLDEST)/.installed
venv-py313: $(VENV_PY313)/.installed

demo: venv
	$(VENV)/bin/python scripts/demo.py

lint: venv
	$(VENV)/bin/ruff format --check airflow_dlt_provider tests dags_examples bench scripts
	$(VENV)/bin/ruff check airflow_dlt_provider tests dags_examples bench scripts
	$(VENV)/bin/mypy

# The stages select tiers (tests/unit, tests/integration, tests/system: CONTRIBUTING.md), never lists of files.
#
# The newest pair, every tier (real scheduler included). It is also the deprecation job: a DeprecationWarning or
# FutureWarning raised where the provider calls Airflow or dlt fails the test (conftest, --deprecations-as-errors);
# the ones Airflow or dlt raise from their own code stay ignored.
# The fault matrix (tests/integration/faults, marker `faults`) runs only its fixed sample (`faults_sample`) here:
# the whole matrix is `make test-faults`.
test-airflow3: venv
	$(VENV)/bin/python -m pytest --deprecations-as-errors --durations=15 -m "not faults or faults_sample" $(PYTEST_ARGS)

# Where the newest dlt meets Airflow 2.11: the integration tier (DAG runs, dlt in a task, the seams' contract
# tests). The system tier (a real scheduler, Celery, a browser) runs on the newest Airflow only: a second cluster
# on Airflow 2.11 would double the suite's time; `make test-airflow2 AIRFLOW2_TESTS=tests` runs it there too.
AIRFLOW2_TESTS ?= tests/integration
test-airflow2: venv-airflow2
	$(VENV_AF2)/bin/python -m pytest -m "not faults" $(AIRFLOW2_TESTS) $(PYTEST_ARGS)

# The oldest declared pair: the unit and integration tiers. Raising a floor in pyproject.toml moves this run
# with it; lowering one needs this run to pass first.
test-oldest: venv-oldest
	$(VENV_OLDEST)/bin/python -m pytest -m "not faults" tests/unit tests/integration $(PYTEST_ARGS)

# Python 3.13 (MWAA 3.1's, with an older Airflow 3 and common-compat): the unit tier and the seams' contract
# tests (tests/integration/seams), what differs by Python or by Airflow 3 minor.
test-py313: venv-py313
	$(VENV_PY313)/bin/python -m pytest -m "not slow" tests/unit tests/integration/seams $(PYTEST_ARGS)

# Regenerate tests/system/install/mwaa_edits.json, docs/deploy/install-matrix.md and the MWAA guide's edits.
install-matrix: venv
	$(VENV)/bin/python tests/system/install/install_matrix.py --write

# test-airflow2 stays beside test-oldest: it is the only run of the newest dlt on Airflow 2 (dlt reads Airflow
# itself in places).
test: lint test-airflow3 test-oldest test-airflow2 test-py313

# The whole fault-injection matrix (tests/integration/faults: every fault point x write disposition x destination x store),
# in FAULTS_WORKERS concurrent pytest shards (each cell forks its attempts); the results go to
# build/faults/results.json and docs/reliability.md. Some cells: `make test-faults FAULTS_K=<pytest -k expression>`
# (their table goes to build/faults/reliability.md).
FAULTS_WORKERS ?= 2
FAULTS_K ?=
FAULTS_DIR := build/faults
# a part of the matrix (FAULTS_K) never overwrites the page of the whole matrix
FAULTS_DOC ?= $(if $(FAULTS_K),$(FAULTS_DIR)/reliability.md,docs/reliability.md)
test-faults: venv
	rm -rf $(FAULTS_DIR) && mkdir -p $(FAULTS_DIR)
	@start=$$(date +%s); pids=""; \
	for i in $$(seq 0 $$(($(FAULTS_WORKERS) - 1))); do \
		FAULTS_SHARD=$$i/$(FAULTS_WORKERS) FAULTS_RESULTS=$(FAULTS_DIR)/shard-$$i.jsonl \
			$(VENV)/bin/python -m pytest tests/integration/faults -m faults $(if $(FAULTS_K),-k "$(FAULTS_K)") -q \
			$(PYTEST_ARGS) > $(FAULTS_DIR)/shard-$$i.log 2>&1 & pids="$$pids $$!"; \
	done; \
	echo "fault matrix: $(FAULTS_WORKERS) shard(s) running, logs in $(FAULTS_DIR)/shard-*.log"; \
	rc=0; for pid in $$pids; do wait $$pid || rc=1; done; \
	tail -n 3 $(FAULTS_DIR)/shard-*.log; \
	$(VENV)/bin/python scripts/reliability_table.py $(FAULTS_DIR)/shard-*.jsonl \
		--seconds $$(($$(date +%s) - start)) --workers $(FAULTS_WORKERS) \
		--json $(FAULTS_DIR)/results.json --out $(FAULTS_DOC) || rc=1; \
	exit $$rc

clean:
	rm -rf $(TOOLS) $(VENV) $(VENV_AF2) $(VENV_OLDEST) $(VENV_PY313) .demo
