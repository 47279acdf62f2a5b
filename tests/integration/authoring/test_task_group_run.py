"""A ``DltTaskGroup`` run end to end with ``dag.test()``: every row of the sample reaches DuckDB."""

from __future__ import annotations

import uuid

from support.dag_runs import duckdb_counts, run_dag_file
from support.sample_data import expected_sample_counts


def test_serialize_group_loads_every_row(dags_folder):
    pipeline = f"group_{uuid.uuid4().hex[:8]}"
    body = (
        f"DltTaskGroup('github', source=github_sample, pipeline_name={pipeline!r}, dataset_name='raw', "
        "decompose='serialize', source_kwargs={'repos': ['dlt', 'airflow']})"
    )
    result = run_dag_file(
        dags_folder,
        f"dag_{pipeline}",
        body,
        imports="from github_sample_source import github_sample\nfrom airflow_dlt_provider import DltTaskGroup",
    )

    assert result.state == "success", result.task_states
    assert result.task_states == {"github.users": "success", "github.issues": "success"}
    expected = expected_sample_counts({"dlt", "airflow"})
    assert duckdb_counts(pipeline, "raw") == expected
    assert result.xcom("github.users")["rows"] == {"users": expected["users"]}
    assert result.xcom("github.issues")["rows"] == {k: v for k, v in expected.items() if k != "users"}
