"""dlt configuration inside a task: the ``dlt_secrets_toml`` Airflow Variable is still honoured."""

from __future__ import annotations

import uuid

from helpers import run_dag_file


def test_dlt_secrets_toml_variable_reaches_the_source(dags_folder, monkeypatch):
    import duckdb

    from airflow_dlt_provider.runtime import default_duckdb_path

    marker = f"hello-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("AIRFLOW_VAR_DLT_SECRETS_TOML", f'[sources]\ngreeting = "{marker}"\n')
    # a worker runs each task in a new process; here earlier tests' dlt providers (and their cached
    # Variable lookups) live on in this one, so start them afresh
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    Container()[PluggableRunContext].reload_providers()
    pipeline = f"config_{uuid.uuid4().hex[:8]}"
    result = run_dag_file(
        dags_folder,
        f"dag_{pipeline}",
        f"DltRunOperator(task_id='load', source=secret_config_source, pipeline_name={pipeline!r}, dataset_name='raw')",
        imports="from warning_source import secret_config_source",
    )
    assert result.state == "success", result.task_states
    with duckdb.connect(str(default_duckdb_path(pipeline)), read_only=True) as con:
        assert con.execute("SELECT greeting FROM raw.greetings").fetchall() == [(marker,)]
