"""dlt configuration inside a task: the ``dlt_secrets_toml`` Airflow Variable is still honoured.

Runs ``airflow dags test`` in a fresh process, as a worker would: dlt keeps its config providers and
their Variable lookups for the life of a process, so earlier tests of this session must not be in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from helpers import write_dag

from airflow_dlt_provider.runtime import default_duckdb_path


def test_dlt_secrets_toml_variable_reaches_the_source(dags_folder):
    import duckdb

    marker = f"hello-{uuid.uuid4().hex[:6]}"
    pipeline = f"config_{uuid.uuid4().hex[:8]}"
    dag_id = f"dag_{pipeline}"
    path = write_dag(
        dags_folder,
        dag_id,
        f"DltRunOperator(task_id='load', source=secret_config_source, pipeline_name={pipeline!r}, dataset_name='raw')",
        imports="from warning_source import secret_config_source",
    )
    env = {
        **os.environ,
        "AIRFLOW_VAR_DLT_SECRETS_TOML": f'[sources]\ngreeting = "{marker}"\n',
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]),
    }
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        path.unlink()
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    with duckdb.connect(str(default_duckdb_path(pipeline)), read_only=True) as con:
        assert con.execute("SELECT greeting FROM raw.greetings").fetchall() == [(marker,)]
