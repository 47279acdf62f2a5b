"""The errors a failure callback reads carry their fields (table, columns, expected, actual) after a real run,
and keep them through pickling (Airflow sends exceptions between processes)."""

from __future__ import annotations

import pickle
import uuid
from typing import Any

import pytest

from airflow_dlt_provider.authoring import arguments
from airflow_dlt_provider.exceptions import RowExpectationError, SchemaChangeError
from airflow_dlt_provider.runtime.failures import error_chain


def test_schema_change_error_carries_the_table_and_columns(tmp_path):
    from support.sources.schema_changes import people

    from airflow_dlt_provider.authoring.sources import resolve_source_spec
    from airflow_dlt_provider.runtime import pipeline_run

    pipeline = f"fields_{uuid.uuid4().hex[:8]}"

    def run(source_kwargs: dict[str, Any], mode: str) -> Any:
        request = pipeline_run.RunRequest(
            source=resolve_source_spec(people),
            pipeline_name=pipeline,
            source_kwargs=source_kwargs,
            dataset_name="raw",
            working_dir=tmp_path / "work",
            on_schema_change=mode,
        )
        return pipeline_run.run(request)

    run({}, "warn")
    with pytest.raises(Exception) as excinfo:
        run({"extra_column": "nickname"}, "fail")
    error = next(e for e in error_chain(excinfo.value) if isinstance(e, SchemaChangeError))
    assert (error.pipeline_name, error.new_tables, error.new_columns) == (
        pipeline,
        [],
        {"users": ["nickname"]},
    )
    assert (error.table, error.columns) == ("users", ["nickname"])
    assert "new column(s) 'nickname' in table 'users'" in str(error)  # the message is kept
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.table, copy.columns) == (str(error), "users", ["nickname"])


def test_row_expectation_error_carries_table_expected_and_actual(tmp_path):
    from support.sources.schema_changes import people

    from airflow_dlt_provider.authoring.sources import resolve_source_spec
    from airflow_dlt_provider.runtime import alerts, pipeline_run

    pipeline = f"rows_{uuid.uuid4().hex[:8]}"
    request = pipeline_run.RunRequest(
        source=resolve_source_spec(people),
        pipeline_name=pipeline,
        dataset_name="raw",
        working_dir=tmp_path / "work",
        expect_rows=arguments.check_expect_rows({"users": (10, None, "fail")}),
    )
    summary = pipeline_run.run(request)
    with pytest.raises(Exception) as excinfo:
        alerts.raise_on_failed_expectations(summary)  # what DltRunOperator.execute does after the load
    error = excinfo.value.__cause__
    assert isinstance(error, RowExpectationError)
    assert (error.pipeline_name, error.table, error.expected, error.actual) == (
        pipeline,
        "users",
        (10, None),
        3,
    )
    assert error.failures["users"]["status"] == "below"
    assert error.load_ids == summary["load_ids"]
    assert "table 'users' loaded 3 row(s) in this run, expected at least 10" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.table, copy.expected, copy.actual) == ("users", (10, None), 3)
