"""The seven scenarios of issue 22, each through a DAG run (``dag.test()``) with the fault injected by the DAG's
own module, as a user meets them: every row exactly once, or the run fails -- never a silent loss.

Faults fire once: the DAG module arms them while a flag file exists and removes the flag when it fires.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pytest
from support.dag_runs import write_dag

from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS
from airflow_dlt_provider.testing.dagrun import dag_run_task_states, load_dag, run_dag

FAULTS = """
import os

from dlt.pipeline.pipeline import Pipeline as _Pipeline

if not getattr(_Pipeline, "_scenario_faults", False):
    _load, _normalize = _Pipeline.load, _Pipeline.normalize

    def load(self, *args, **kwargs):
        work = os.environ.get("SCENARIO_WORK", "")
        if work and os.path.exists(os.path.join(work, "fail_load")):
            os.remove(os.path.join(work, "fail_load"))
            raise ConnectionError("the warehouse was unreachable")
        return _load(self, *args, **kwargs)

    def normalize(self, *args, **kwargs):
        work = os.environ.get("SCENARIO_WORK", "")
        if work and os.path.exists(os.path.join(work, "fail_normalize")):
            os.remove(os.path.join(work, "fail_normalize"))
            raise OSError(28, "No space left on device")
        return _normalize(self, *args, **kwargs)

    _Pipeline.load, _Pipeline.normalize = load, normalize
    _Pipeline._scenario_faults = True
"""

SOURCE = (
    """
import datetime as _dt
import json
import os
import dlt

WORK = {work!r}
RUN = open(WORK + "/run").read().strip() if os.path.exists(WORK + "/run") else "1"


def _once(name):
    flag = os.path.join(WORK, name)
    if os.path.exists(flag):
        os.remove(flag)
        return True
    return False


"""
    + FAULTS
    + """

def rows():
    # run 1: ids 0-2 with v1; run 2: ids 1 and 2 change to v2
    return [{{"id": n, "value": "v2" if RUN == "2" and n > 0 else "v1"}} for n in range(3)]


def accounts_with(disposition):
    @dlt.resource(name="accounts", primary_key="id", write_disposition=disposition)
    def accounts():
        with open(WORK + "/extractions", "a") as handle:
            handle.write("x")
        yield rows()
        if RUN == "2" and os.path.exists(WORK + "/add_column"):
            yield [{{"id": 9, "value": "v2", "new_column": 1}}]

    return accounts


def alert(context, *args, **kwargs):
    if _once("fail_alert"):
        try:
            from airflow.sdk.exceptions import AirflowTaskTimeout
        except ImportError:  # Airflow 2
            from airflow.exceptions import AirflowTaskTimeout

        if os.path.exists(WORK + "/move_worker"):  # the retry lands on another worker
            os.environ["AIRFLOW__DLT__WORKING_DIR"] = WORK + "/worker_b"
        raise AirflowTaskTimeout("the alert ran past execution_timeout")
"""
)

BODY = """DltRunOperator(
    task_id="load",
    source=accounts_with({disposition!r}),
    pipeline_name={pipeline!r},
    destination={destination},
    dataset_name={dataset!r},
    retry_delay=_dt.timedelta(seconds=1),
    {extra}
)"""


class Scenario:
    def __init__(self, dags_folder: Path, tmp_path: Path, monkeypatch, disposition: object = "append"):
        self.dags_folder, self.tmp_path, self.monkeypatch = dags_folder, tmp_path, monkeypatch
        self.work = tmp_path / "work"
        self.work.mkdir(exist_ok=True)
        monkeypatch.setenv("SCENARIO_WORK", str(self.work))
        self.pipeline = f"scn_{uuid.uuid4().hex[:8]}"
        self.disposition = disposition

    def run(
        self,
        run: int,
        *,
        dataset: str = "shop",
        database: Path | None = None,
        extra: str = "retries=1,",
        arm=(),
    ):
        (self.work / "run").write_text(str(run))
        for flag in arm:
            (self.work / flag).touch()
        database = database or self.tmp_path / "warehouse.duckdb"
        dag_id = f"dag_{uuid.uuid4().hex[:8]}"
        body = BODY.format(
            disposition=self.disposition,
            pipeline=self.pipeline,
            destination=f"dlt.destinations.duckdb({str(database)!r})",
            dataset=dataset,
            extra=extra,
        )
        path = write_dag(self.dags_folder, dag_id, body, imports=SOURCE.format(work=str(self.work)))
        try:
            return run_dag(load_dag(path, dag_id))
        finally:
            path.unlink()

    def table(self, dataset: str = "shop", database: Path | None = None) -> list[tuple]:
        with duckdb.connect(str(database or self.tmp_path / "warehouse.duckdb"), read_only=True) as conn:
            return conn.execute(f"SELECT id, value FROM {dataset}.accounts ORDER BY id, value").fetchall()


def test_1_merge_upsert_keeps_the_new_values_after_a_warehouse_blip(dags_folder, tmp_path, monkeypatch):
    s = Scenario(dags_folder, tmp_path, monkeypatch, {"disposition": "merge", "strategy": "upsert"})
    assert s.run(1).state == "success"

    second = s.run(2, arm=["fail_load"])

    assert second.state == "success", second.task_states
    assert s.table() == [(0, "v1"), (1, "v2"), (2, "v2")]
    assert second.xcom("load")["rows"] == {"accounts": 3}


def test_1_merge_scd2_keeps_the_new_values_after_a_warehouse_blip(dags_folder, tmp_path, monkeypatch):
    s = Scenario(dags_folder, tmp_path, monkeypatch, {"disposition": "merge", "strategy": "scd2"})
    assert s.run(1).state == "success"

    second = s.run(2, arm=["fail_load"])

    assert second.state == "success", second.task_states
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        current = conn.execute(
            "SELECT id, value FROM shop.accounts WHERE _dlt_valid_to IS NULL ORDER BY id"
        ).fetchall()
    assert current == [(0, "v1"), (1, "v2"), (2, "v2")]


def test_2_a_pending_package_never_loads_into_another_dags_destination(
    dags_folder, tmp_path, monkeypatch, caplog
):
    """DAG A and DAG B share a pipeline name, not a destination: A's pending package waits for A."""
    s = Scenario(dags_folder, tmp_path, monkeypatch)
    a_db, b_db = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    extra = "retries=0,"
    failed = s.run(1, dataset="dataset_a", database=a_db, extra=extra, arm=["fail_load"])
    assert failed.state == "failed"
    caplog.clear()

    b = s.run(1, dataset="dataset_b", database=b_db, extra=extra)

    assert b.state == "success", b.task_states
    with duckdb.connect(str(b_db), read_only=True) as conn:
        schemas = {
            row[0] for row in conn.execute("SELECT schema_name FROM information_schema.schemata").fetchall()
        }
    assert "dataset_a" not in schemas
    assert s.table("dataset_b", b_db) == [(0, "v1"), (1, "v1"), (2, "v1")]
    assert "also has load packages pending for duckdb at" in caplog.text
    assert "dataset 'dataset_a'" in caplog.text

    a_again = s.run(1, dataset="dataset_a", database=a_db, extra=extra)  # A's next run finishes A's package
    assert a_again.state == "success"
    assert s.table("dataset_a", a_db) == [(0, "v1"), (0, "v1"), (1, "v1"), (1, "v1"), (2, "v1"), (2, "v1")]


# Airflow 2's dag.test() lets a BaseException raised in a task (AirflowTaskTimeout) out of the whole run
_AIRFLOW2_DAG_TEST_STOPS = pytest.mark.skipif(
    not AIRFLOW_V_3_0_PLUS,
    reason="Airflow 2's dag.test() stops the run at a task's BaseException; runs on Airflow 3",
)


@_AIRFLOW2_DAG_TEST_STOPS
def test_4_an_alert_interrupted_after_the_load_does_not_load_again(
    dags_folder, tmp_path, monkeypatch, caplog
):
    s = Scenario(dags_folder, tmp_path, monkeypatch)
    extra = 'retries=1, expect_rows={"accounts": (100, None, alert)},'

    result = s.run(1, extra=extra, arm=["fail_alert"])

    assert s.table() == [(0, "v1"), (1, "v1"), (2, "v1")]  # loaded once, though the first try was interrupted
    assert (s.work / "extractions").read_text() == "x"
    assert "not extracting again; reporting them" in caplog.text
    assert result.xcom("load")["rows"] == {"accounts": 3}


def test_5_on_schema_change_fail_judges_the_package_a_retry_finishes(dags_folder, tmp_path, monkeypatch):
    s = Scenario(dags_folder, tmp_path, monkeypatch)
    assert s.run(1).state == "success"
    (s.work / "add_column").touch()

    second = s.run(2, extra='retries=1, on_schema_change="fail",', arm=["fail_normalize"])

    assert second.state == "failed", second.task_states
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        columns = [row[0] for row in conn.execute("DESCRIBE shop.accounts").fetchall()]
    assert "new_column" not in columns
    assert s.table() == [(0, "v1"), (1, "v1"), (2, "v1")]


@_AIRFLOW2_DAG_TEST_STOPS
def test_6_a_retry_on_another_worker_reports_what_the_store_records_as_loaded(
    dags_folder, tmp_path, monkeypatch, caplog
):
    """Interrupted after its load; the retry runs on another worker: the store's record wins, no reload."""
    s = Scenario(dags_folder, tmp_path, monkeypatch)
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE", f"file://{tmp_path / 'store'}")
    monkeypatch.setenv("AIRFLOW__DLT__WORKING_DIR", str(s.work / "worker_a"))
    (s.work / "move_worker").touch()

    result = s.run(1, extra='retries=1, expect_rows={"accounts": (100, None, alert)},', arm=["fail_alert"])

    assert result.state == "success", result.task_states
    assert s.table() == [(0, "v1"), (1, "v1"), (2, "v1")]
    assert (s.work / "extractions").read_text() == "x"
    assert "not extracting again; reporting them" in caplog.text
    assert result.xcom("load")["rows"] == {"accounts": 3}


# ---------------------------------------------------------------- scenario 3: a job the destination refused

SHOP_SOURCE = (
    FAULTS
    + """
import dlt
from airflow_dlt_provider import DltTaskGroup


@dlt.source(name="shop")
def shop():
    @dlt.resource(name="orders", write_disposition="append")
    def orders():
        # the amounts arrive as text; the warehouse's orders table holds them as BIGINT: DuckDB refuses the job
        yield [{"id": n, "amount": "%d.50 EUR" % n} for n in range(3)]

    @dlt.resource(name="users", write_disposition="append")
    def users():
        yield [{"id": n, "name": "user %d" % n} for n in range(3)]

    return orders, users
"""
)

SHOP_BODY = """DltTaskGroup(
    group_id="shop",
    source=shop,
    pipeline_name={pipeline!r},
    destination=dlt.destinations.duckdb({database!r}),
    dataset_name="shop",
    decompose="serialize",
    # the users task runs whatever became of the orders task
    default_args={{"retries": 0, "trigger_rule": "all_done"}},
)"""


@pytest.mark.skipif(
    not AIRFLOW_V_3_0_PLUS,
    reason="Airflow 2's dag.test() leaves this DAG's orders task unrun (state None); runs on Airflow 3",
)
@pytest.mark.parametrize(
    ("arm", "refused_by"),
    [
        ((), "shop.orders"),  # the orders task loads its package itself; the refused job fails it
        # the orders task dies before its load; the users task loads the orders package first (refused there)
        (("fail_load",), "shop.users"),
    ],
    ids=["refused-in-its-own-load", "refused-in-the-users-task"],
)
def test_3_a_job_the_destination_refused_is_never_reported_loaded(
    dags_folder, tmp_path, monkeypatch, caplog, capfd, arm, refused_by
):
    """Issue 22, scenario 3: the orders task's job is refused (``LOAD__RAISE_ON_FAILED_JOBS=false``); the users
    task of the same pipeline succeeds after it. Neither that success nor running the orders task of that run
    again may report the refused rows: the package is kept, the orders task fails naming the refused job."""
    from airflow.cli import cli_parser

    monkeypatch.setenv("LOAD__RAISE_ON_FAILED_JOBS", "false")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("SCENARIO_WORK", str(work))
    for flag in arm:
        (work / flag).touch()
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as conn:  # a table someone else created, amounts as integers
        conn.execute("CREATE SCHEMA shop")
        conn.execute("CREATE TABLE shop.orders (id BIGINT, amount BIGINT)")
    pipeline, dag_id = f"scn3_{uuid.uuid4().hex[:8]}", f"dag_{uuid.uuid4().hex[:8]}"
    path = write_dag(
        dags_folder, dag_id, SHOP_BODY.format(pipeline=pipeline, database=str(database)), imports=SHOP_SOURCE
    )

    def rows(table: str) -> list[tuple]:
        with duckdb.connect(str(database), read_only=True) as conn:
            sql = f"SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM shop.{table} ORDER BY id"
            return conn.execute(sql).fetchall()

    users = [(0, "user 0"), (1, "user 1"), (2, "user 2")]
    try:
        first = run_dag(load_dag(path, dag_id))

        assert first.task_states == {"shop.orders": "failed", "shop.users": "success"}
        assert rows("orders") == []
        assert rows("users") == users
        assert first.xcom("shop.users")["rows"] == {"users": 3}
        out = capfd.readouterr().out  # the task logs, as dag.test prints them
        if refused_by == "shop.orders":  # the task's own error names the refused job and why
            assert "load job failed: table 'orders', job 'orders." in out
            assert "Could not convert string '0.50 EUR' to INT64" in out
        else:
            assert "the warehouse was unreachable" in out
            assert "load job(s) of other tasks' packages failed terminally" in caplog.text
        # the users task's success keeps the refused package and records the failure for the orders task
        assert "have failed jobs: it fails when it runs again" in caplog.text
        assert "with failed jobs in" in caplog.text
        caplog.clear()

        # the orders task of that run runs again (`airflow tasks test <dag> shop.orders <run id>`)
        args = cli_parser.get_parser().parse_args(["tasks", "test", dag_id, "shop.orders", first.run_id])
        args.func(args)
    finally:
        path.unlink()

    log = capfd.readouterr().out + caplog.text
    assert dag_run_task_states(dag_id, first.run_id) == {"shop.orders": "failed", "shop.users": "success"}
    assert "not extracting again" not in log
    assert "1 load job(s) failed terminally and their rows are not in the destination" in log
    assert "table orders (" in log and "Could not convert string '0.50 EUR' to INT64" in log
    with pytest.raises(KeyError):
        first.xcom("shop.orders")  # no summary: no rows reported loaded
    assert rows("orders") == []  # and the destination has none
    assert rows("users") == users
