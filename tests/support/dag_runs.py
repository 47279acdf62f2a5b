"""Small helpers shared by the tests: DAG files, runs, and reading what a run loaded into DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_dlt_provider.runtime.workdir import default_duckdb_path
from airflow_dlt_provider.testing.duckdb_run import dataset_row_counts


def duckdb_counts(pipeline_name: str, dataset_name: str, path: Path | None = None) -> dict[str, int]:
    """Rows per user table of ``dataset_name`` in the pipeline's default DuckDB file."""
    return dataset_row_counts(path or default_duckdb_path(pipeline_name), dataset_name)


DAG_FILE_TEMPLATE = """\
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator
{imports}

with DAG({dag_id!r}, schedule={schedule}, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False{dag_args}) as dag:
{body}
"""


def write_dag(
    dags_folder: Path, dag_id: str, body: str, imports: str = "", schedule: str = "None", dag_args: str = ""
) -> Path:
    """Write a DAG file into the session's DAGs folder; ``body`` is indented code inside ``with DAG``;
    ``dag_args`` more ``DAG(...)`` arguments as code (``"max_active_runs=1"``)."""
    import textwrap

    code = DAG_FILE_TEMPLATE.format(
        imports=imports,
        dag_id=dag_id,
        schedule=schedule,
        dag_args=f", {dag_args}" if dag_args else "",
        body=textwrap.indent(textwrap.dedent(body), "    "),
    )
    path = dags_folder / f"{dag_id}.py"
    path.write_text(code)
    return path


def run_dag_file(dags_folder: Path, dag_id: str, body: str, imports: str = "", dag_args: str = "", **kwargs):
    """Write a DAG file, parse it like the DAG processor and run it once with ``dag.test()``."""
    from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

    path = write_dag(dags_folder, dag_id, body, imports, dag_args=dag_args)
    try:
        return run_dag(load_dag(path, dag_id), **kwargs)
    finally:
        # keep the bundle small: Airflow 3 re-parses the whole DAGs folder on every dag.test()
        path.unlink()


def airflow_dags_test(
    dag_id: str, python_path: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``airflow dags test dag_id`` in a fresh process (dlt keeps config providers per process), with
    ``python_path`` in front of ``PYTHONPATH``; stdout and stderr are captured."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([python_path, os.environ.get("PYTHONPATH", "")]),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",  # a loaded 2-core machine parses slowly
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def asset_events(dag_id: str, run_id: str) -> dict[str, dict]:
    """``{uri: extra}`` of the asset events a DAG run produced, read from the metadata DB."""
    from airflow import settings
    from sqlalchemy import text

    from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS

    if AIRFLOW_V_3_0_PLUS:
        sql = (
            "SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE e.source_dag_id = :dag_id AND e.source_run_id = :run_id"
        )
    else:
        sql = (
            "SELECT d.uri, e.extra FROM dataset_event e JOIN dataset d ON d.id = e.dataset_id "
            "WHERE e.source_dag_id = :dag_id AND e.source_run_id = :run_id"
        )
    session = settings.Session()
    try:
        rows = session.execute(text(sql), {"dag_id": dag_id, "run_id": run_id}).fetchall()
    finally:
        session.close()
    events: dict[str, dict] = {}
    for uri, extra in rows:
        assert uri not in events, f"two events for {uri}"
        events[uri] = json.loads(extra) if isinstance(extra, str) else dict(extra or {})
    return events


def metadata_rows(sql: str, **params: object) -> list[tuple]:
    """Rows of a SQL query on the test session's Airflow metadata DB (``:name`` parameters)."""
    from airflow import settings
    from sqlalchemy import text

    session = settings.Session()
    try:
        return [tuple(row) for row in session.execute(text(sql), params).fetchall()]
    finally:
        session.close()
