"""on_schema_change, data contracts and failed load jobs: the task fails naming what went wrong."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import duckdb
import pytest
from support.dag_runs import duckdb_counts, run_dag_file
from support.sources.schema_changes import people, refusing_sink

from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.exceptions import (
    DataContractError,
    InvalidArgumentError,
    LoadFailedError,
    SchemaChangeError,
)
from airflow_dlt_provider.runtime import pipeline_run
from airflow_dlt_provider.runtime.failures import error_chain
from airflow_dlt_provider.runtime.workdir import default_duckdb_path


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _run(tmp_path: Path, pipeline: str, **kwargs):
    """One run of ``people`` in-process, as a task would do it (default DuckDB, private working dir)."""
    source_kwargs = kwargs.pop("source_kwargs", {})
    request = pipeline_run.RunRequest(
        source=resolve_source_spec(kwargs.pop("source", people)),
        pipeline_name=pipeline,
        source_kwargs=source_kwargs,
        dataset_name="raw",
        working_dir=tmp_path / uuid.uuid4().hex[:6],
        **kwargs,
    )
    return pipeline_run.run(request)


def _provider_error(error: BaseException, cls: type[Exception]) -> Exception:
    """The provider error in ``error``'s chain (the runtime may wrap it in AirflowFailException)."""
    found = next((e for e in error_chain(error) if isinstance(e, cls)), None)
    assert isinstance(found, cls), f"no {cls.__name__} in the chain of {error!r}"
    return found


def _columns(pipeline: str, table: str) -> list[str]:
    with duckdb.connect(str(default_duckdb_path(pipeline)), read_only=True) as con:
        rows = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
            [table],
        ).fetchall()
    return sorted(r[0] for r in rows if not r[0].startswith("_dlt"))


DAG_BODY = (
    "DltRunOperator(task_id='load', source=people, pipeline_name={pipeline!r}, dataset_name='raw', "
    "source_kwargs={source_kwargs!r}, on_schema_change='fail', retries=0)"
)


def test_fail_passes_without_a_change_and_fails_on_a_new_column(dags_folder, tmp_path):
    pipeline = _unique("drift")
    first = _run(tmp_path, pipeline, on_schema_change="fail")  # the first run creates everything: no failure
    assert first["first_run"] is True and first["rows"] == {"users": 3}

    same = run_dag_file(
        dags_folder,
        _unique("dag"),
        DAG_BODY.format(pipeline=pipeline, source_kwargs={"rows": 4}),
        imports="from support.sources.schema_changes import people",
    )
    assert same.state == "success", same.task_states
    assert same.xcom("load")["rows"] == {"users": 4}

    drift = run_dag_file(
        dags_folder,
        _unique("dag"),
        DAG_BODY.format(pipeline=pipeline, source_kwargs={"rows": 5, "extra_column": "nickname"}),
        imports="from support.sources.schema_changes import people",
    )
    assert drift.state == "failed"
    assert drift.task_states == {"load": "failed"}
    # nothing of the failed run reached the destination
    assert _columns(pipeline, "users") == ["id", "name"]
    assert duckdb_counts(pipeline, "raw") == {"users": 4}


def test_schema_change_error_names_table_and_column_and_a_retry_fails_again(tmp_path):
    pipeline = _unique("drift")
    _run(tmp_path, pipeline)
    work = tmp_path / "kept"
    for _attempt in range(2):  # the same working dir, as a retry on the same worker
        with pytest.raises(Exception) as excinfo:
            _run_in_dir(work, pipeline, {"extra_column": "nickname"}, "fail")
        message = str(_provider_error(excinfo.value, SchemaChangeError))
        assert "'nickname'" in message and "'users'" in message and "Nothing was loaded" in message
    assert _columns(pipeline, "users") == ["id", "name"]

    # the same change is accepted with "warn" and logged as a schema change
    summary = _run_in_dir(work, pipeline, {"extra_column": "nickname"}, "warn")
    assert summary["schema_changes"]["new_columns"] == {"users": ["nickname"]}
    assert _columns(pipeline, "users") == ["id", "name", "nickname"]


def _run_in_dir(work: Path, pipeline: str, source_kwargs: dict, on_schema_change: str):
    request = pipeline_run.RunRequest(
        source=resolve_source_spec(people),
        pipeline_name=pipeline,
        source_kwargs=source_kwargs,
        dataset_name="raw",
        working_dir=work,
        on_schema_change=on_schema_change,
    )
    return pipeline_run.run(request)


def test_warn_logs_the_change_as_a_table(tmp_path, caplog):
    pipeline = _unique("warn")
    _run(tmp_path, pipeline)
    with caplog.at_level(logging.INFO, logger="airflow_dlt_provider"):
        _run(tmp_path, pipeline, source_kwargs={"extra_column": "nickname"})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    table = next(m for m in warnings if m.startswith("schema changes"))
    assert "0 new table(s), 1 new column(s)" in table
    assert any(line.split() == ["users", "new", "columns", "nickname"] for line in table.splitlines())


def test_on_schema_change_value_is_checked():
    from airflow_dlt_provider.authoring.arguments import check_on_schema_change

    with pytest.raises(InvalidArgumentError, match="'stop' is not one of: warn, fail, ignore"):
        check_on_schema_change("stop")


def test_contract_violation_names_table_and_column(tmp_path):
    pipeline = _unique("contract")
    _run(tmp_path, pipeline)
    with pytest.raises(Exception) as excinfo:
        _run(
            tmp_path,
            pipeline,
            source_kwargs={"extra_column": "nickname"},
            run_kwargs={"schema_contract": {"columns": "freeze"}},
        )
    message = str(_provider_error(excinfo.value, DataContractError))
    assert "table 'users', column 'nickname'" in message
    assert "columns are 'freeze'" in message
    assert _columns(pipeline, "users") == ["id", "name"]


@pytest.mark.parametrize("raise_on_failed_jobs", [True, False], ids=["dlt-raises", "failed-job-in-load-info"])
def test_failed_load_job_names_table_job_and_error(tmp_path, monkeypatch, raise_on_failed_jobs):
    monkeypatch.setenv("LOAD__RAISE_ON_FAILED_JOBS", str(raise_on_failed_jobs).lower())
    with pytest.raises(Exception) as excinfo:
        _run(tmp_path, _unique("sink"), destination=refusing_sink)
    message = str(_provider_error(excinfo.value, LoadFailedError))
    assert "table 'users'" in message
    assert "job 'users." in message and ".typed-jsonl" in message
    assert "disk quota exceeded while writing users" in message


def test_failed_load_job_message_is_the_error_not_the_marker_under_the_statement():
    from airflow_dlt_provider.runtime.failed_jobs import describe_failed_job

    # DuckDB ends its message with the statement and a ^^^ marker; the traceback's error line is the cause
    failed_message = (
        "Traceback (most recent call last):\n"
        '  File "sql_client.py", line 261, in execute_query\n'
        "    yield self.cursor_impl(cur.execute(query, db_args))\n"
        "                           ^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "dlt.destinations.exceptions.DatabaseTerminalException: Conversion Error: Could not convert string "
        "'0.50 EUR' to INT64\n\nLINE 3: (0,E'0.50 EUR',E'1796420420.96',E'FDGe5zNbh0RC6g'),\n"
        "           ^^^^^^^^^^^\n"
    )
    message = describe_failed_job(
        "orders", "orders.9e4cc95cd5.insert_values.gz", "1796420420.96", failed_message
    )
    assert message.endswith(
        ": dlt.destinations.exceptions.DatabaseTerminalException: Conversion Error: Could not convert string "
        "'0.50 EUR' to INT64"
    )
    assert describe_failed_job("t", "t.1.jsonl", None, "disk quota exceeded\n  ^^^").endswith(
        ": disk quota exceeded"
    )


# ---------------------------------------------------------------- the guard inside a DltTaskGroup

SHOP_TASKS = ("shop.customers", "shop.products", "shop.orders")


def _run_shop_group(dags_folder, pipeline: str, decompose: str, mode: str, source_kwargs: dict):
    body = (
        f"DltTaskGroup('shop', source=shop, pipeline_name={pipeline!r}, dataset_name='raw', "
        f"decompose={decompose!r}, on_schema_change={mode!r}, source_kwargs={source_kwargs!r}, "
        "default_args={'retries': 0})"
    )
    return run_dag_file(
        dags_folder,
        _unique("dag"),
        body,
        imports="from airflow_dlt_provider import DltTaskGroup\nfrom support.sources.schema_changes import shop",
    )


def _schema_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.getMessage().startswith("schema changes")
    ]


@pytest.mark.parametrize("decompose", ["serialize", "independent"])
@pytest.mark.parametrize("mode", ["fail", "warn"])
def test_group_tasks_sharing_a_pipeline_decide_their_first_run_each(
    dags_folder, caplog, capfd, mode, decompose
):
    caplog.set_level(logging.INFO)
    pipeline = _unique("shop")
    first = _run_shop_group(dags_folder, pipeline, decompose, mode, {"rows": 3})

    # every task creates its own tables on the DAG's first run: none of them is a schema change
    assert first.task_states == dict.fromkeys(SHOP_TASKS, "success")
    assert duckdb_counts(pipeline, "raw") == {
        "customers": 3,
        "customers__tags": 6,
        "products": 3,
        "orders": 3,
    }
    assert [first.xcom(t)["first_run"] for t in SHOP_TASKS] == [True, True, True]
    assert _schema_warnings(caplog) == []

    caplog.clear()
    capfd.readouterr()
    second = _run_shop_group(dags_folder, pipeline, decompose, mode, {"rows": 4, "order_note": True})
    counts = duckdb_counts(pipeline, "raw")
    assert {t: counts[t] for t in ("customers", "products")} == {"customers": 4, "products": 4}
    if mode == "fail":
        assert second.task_states == {**dict.fromkeys(SHOP_TASKS[:2], "success"), "shop.orders": "failed"}
        assert counts["orders"] == 3  # nothing of the refused task was loaded
        assert _columns(pipeline, "orders") == ["amount", "id"]
        assert _schema_warnings(caplog) == []
        output = "".join(capfd.readouterr())  # the task runner prints the task's exception
        assert "new column(s) 'note' in table 'orders'. Nothing was loaded" in output
    else:
        assert second.task_states == dict.fromkeys(SHOP_TASKS, "success")
        assert counts["orders"] == 4
        assert _columns(pipeline, "orders") == ["amount", "id", "note"]
        [warning] = _schema_warnings(caplog)
        assert "0 new table(s), 1 new column(s)" in warning
        assert any(line.split() == ["orders", "new", "columns", "note"] for line in warning.splitlines())
    assert [second.xcom(t)["first_run"] for t in SHOP_TASKS[:2]] == [False, False]


def test_fail_refuses_a_new_nested_table_under_a_resource_that_had_tables(tmp_path):
    """Nested tables belong to their root table's resource: a new one under a loaded resource is a change."""
    pipeline = _unique("nested")
    _run(tmp_path, pipeline, on_schema_change="fail")
    with pytest.raises(Exception) as excinfo:
        _run(tmp_path, pipeline, source_kwargs={"tags": 2}, on_schema_change="fail")
    assert "new table 'users__tags'" in str(_provider_error(excinfo.value, SchemaChangeError))
    assert duckdb_counts(pipeline, "raw") == {"users": 3}


# ---------------------------------------------------------------- the destination cannot be read


@pytest.mark.parametrize("transient", [False, True], ids=["terminal-sync-error", "transient-sync-error"])
def test_a_failed_sync_keeps_the_guard_on_and_says_so_without_the_secret(
    tmp_path, monkeypatch, caplog, transient
):
    from dlt.common.destination.exceptions import DestinationTransientException
    from dlt.pipeline.pipeline import Pipeline

    from airflow_dlt_provider import _compat

    pipeline = _unique("nosync")
    _run(tmp_path, pipeline, on_schema_change="fail")
    secret = "sync-Pw-7q9x2k"
    _compat.mask_secret(secret)

    error_type = DestinationTransientException if transient else ConnectionError

    def failing_sync(self, *args, **kwargs):
        raise error_type(f"warehouse refused the state query (password {secret})")

    # only the provider's own sync fails; dlt's run() still syncs through its private method
    monkeypatch.setattr(Pipeline, "sync_destination", failing_sync)
    caplog.set_level(logging.INFO, logger="airflow_dlt_provider")
    with pytest.raises(Exception) as excinfo:
        _run(tmp_path, pipeline, source_kwargs={"extra_column": "nickname"}, on_schema_change="fail")
    refused = str(_provider_error(excinfo.value, SchemaChangeError))
    assert "could not be synced from the destination" in refused and "Nothing was loaded" in refused
    # the sync error is the refusal's cause: a transient one leaves the task to Airflow's retries
    assert isinstance(excinfo.value, SchemaChangeError) is transient
    assert _columns(pipeline, "users") == ["id", "name"]
    assert duckdb_counts(pipeline, "raw") == {"users": 3}

    [warning] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("could not sync")]
    assert [r.levelno for r in caplog.records if r.getMessage() == warning] == [logging.WARNING]
    assert f"could not sync pipeline {pipeline!r} from the destination: {error_type.__name__}:" in warning
    assert "on_schema_change='fail' refuses" in warning
    assert secret not in caplog.text and "***" in warning

    # "warn" loads the change; the run is not taken for a first run, so the change is a WARNING
    caplog.clear()
    summary = _run(tmp_path, pipeline, source_kwargs={"extra_column": "nickname"}, on_schema_change="warn")
    assert summary["first_run"] is False
    assert _columns(pipeline, "users") == ["id", "name", "nickname"]
    assert any(
        r.levelno == logging.WARNING and r.getMessage().startswith("schema changes") for r in caplog.records
    )
