"""The seven scenarios of issue 22, each through a DAG run (``dag.test()``) with the fault injected by the DAG's
own module, as a user meets them: every row exactly once, or the run fails -- never a silent loss.

Faults fire once: the DAG module arms them while a flag file exists and removes the flag when it fires.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
from helpers import write_dag

from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

SOURCE = """
import datetime as _dt
import json
import os
import dlt
from dlt.pipeline.pipeline import Pipeline as _Pipeline

WORK = {work!r}
RUN = open(WORK + "/run").read().strip() if os.path.exists(WORK + "/run") else "1"


def _once(name):
    flag = os.path.join(WORK, name)
    if os.path.exists(flag):
        os.remove(flag)
        return True
    return False


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
