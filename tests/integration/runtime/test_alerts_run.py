"""Alerts in real runs into DuckDB: a callable's and a notifier's calls, unmet row expectations, and ``"fail"``
failing only the task of its table."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

from support.dag_runs import duckdb_counts, run_dag_file
from support.sources.schema_changes import people

from airflow_dlt_provider.authoring.arguments import check_expect_rows
from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.runtime import pipeline_run


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _run(tmp_path: Path, pipeline: str, **kwargs):
    source_kwargs = kwargs.pop("source_kwargs", {})
    request = pipeline_run.RunRequest(
        source=resolve_source_spec(people),
        pipeline_name=pipeline,
        source_kwargs=source_kwargs,
        dataset_name="raw",
        working_dir=tmp_path / uuid.uuid4().hex[:6],
        **kwargs,
    )
    return pipeline_run.run(request)


def test_a_callable_gets_the_schema_change_and_unmet_expectations_warn(tmp_path, caplog):
    pipeline = _unique("alert")
    calls: list[tuple[dict, object]] = []
    first = _run(tmp_path, pipeline, on_schema_change=lambda alert, context: calls.append((alert, context)))
    assert calls == []  # the first tables of a resource are no schema change
    assert first["row_expectations"] == {}

    caplog.set_level(logging.INFO, logger="airflow_dlt_provider")
    summary = _run(
        tmp_path,
        pipeline,
        source_kwargs={"extra_column": "nickname"},
        on_schema_change=lambda alert, context: calls.append((alert, context)),
        expect_rows=check_expect_rows({"users": (10, None), "nobody": (None, 5)}),
    )
    [(alert, context)] = calls
    assert context is None  # no task context outside Airflow
    assert alert["reasons"] == ["schema_change"]  # the expectation's action is "warn": no alert for it
    assert alert["schema_changes"] == {"new_tables": [], "new_columns": {"users": ["nickname"]}}
    assert "new column(s) nickname in users" in alert["message"]
    # "nobody" is no table of this task's resources... but the task runs every resource: it answers for it
    assert summary["row_expectations"] == {
        "nobody": {"rows": 0, "min": None, "max": 5, "status": "ok", "action": "warn"},
        "users": {"rows": 3, "min": 10, "max": None, "status": "below", "action": "warn"},
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        f"row expectation not met (action warn): pipeline {pipeline!r} table 'users' loaded 3 row(s) in "
        "this run, expected at least 10" in warnings
    )


def test_a_notifier_gets_schema_change_and_rows_once_in_a_real_dag_run(dags_folder, tmp_path):
    pipeline = _unique("notify")
    out = tmp_path / "alerts.jsonl"
    body = (
        "alert = RecordingNotifier({out!r}, text='dlt: {{{{ dlt_alert.message }}}}')\n"
        "DltRunOperator(task_id='load', source=people, pipeline_name={pipeline!r}, dataset_name='raw', "
        "source_kwargs={kwargs!r}, on_schema_change=alert, expect_rows={{'users': (None, 3, alert)}}, "
        "retries=0)"
    )
    imports = "from support.sources.schema_changes import people, RecordingNotifier"
    first = run_dag_file(
        dags_folder, _unique("dag"), body.format(out=str(out), pipeline=pipeline, kwargs={}), imports
    )
    assert first.state == "success" and _records(out) == []

    second = run_dag_file(
        dags_folder,
        _unique("dag"),
        body.format(out=str(out), pipeline=pipeline, kwargs={"rows": 4, "extra_column": "nickname"}),
        imports,
    )
    assert second.state == "success", second.task_states  # "warn": loaded, alerted
    [record] = _records(out)  # one call for both reasons
    alert = record["alert"]
    assert record["task_id"] == "load" and alert["task_id"] == "load" and alert["dag_id"] == second.dag_id
    assert alert["reasons"] == ["schema_change", "row_expectations"]
    assert alert["schema_changes"]["new_columns"] == {"users": ["nickname"]}
    assert alert["row_expectations"] == {
        "users": {"rows": 4, "min": None, "max": 3, "status": "above", "action": "warn"}
    }
    assert record["text"] == "dlt: " + alert["message"]  # the notifier's template was rendered
    assert "table 'users' loaded 4 row(s) in this run, expected at most 3" in record["text"]
    assert second.xcom("load")["row_expectations"] == alert["row_expectations"]
    assert duckdb_counts(pipeline, "raw") == {"users": 4}


def test_fail_fails_only_the_task_of_the_table_and_keeps_its_rows(dags_folder):
    pipeline = _unique("shop")
    body = (
        f"DltTaskGroup('shop', source=shop, pipeline_name={pipeline!r}, dataset_name='raw', "
        "expect_rows={'orders': (None, 2, 'fail'), 'customers': (1, None, 'fail')}, "
        "default_args={'retries': 2})"
    )
    imports = "from airflow_dlt_provider import DltTaskGroup\nfrom support.sources.schema_changes import shop"
    result = run_dag_file(dags_folder, _unique("dag"), body, imports)
    assert result.task_states == {
        "shop.customers": "success",
        "shop.products": "success",
        "shop.orders": "failed",  # no retry: it would load the rows again
    }
    # the rows of the failed task are loaded and stay loaded
    assert duckdb_counts(pipeline, "raw")["orders"] == 3
    assert result.xcom("shop.orders")["row_expectations"] == {
        "orders": {"rows": 3, "min": None, "max": 2, "status": "above", "action": "fail"}
    }
    # each task answers for the tables of its own resources only
    assert result.xcom("shop.customers")["row_expectations"] == {
        "customers": {"rows": 3, "min": 1, "max": None, "status": "ok", "action": "fail"}
    }
    assert result.xcom("shop.products")["row_expectations"] == {}
