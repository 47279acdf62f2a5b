"""Data intervals reach dlt's incremental loading (``dag.test()`` runs, rows asserted in DuckDB)."""

from __future__ import annotations

import uuid

import pendulum
from support.dag_runs import duckdb_counts, write_dag

from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

# one event every 6 hours from 2026-01-01 00:00 to 2026-01-10 18:00 UTC: four per day
EVENTS_SOURCE = """
import datetime as _dt
import dlt
from airflow.timetables.interval import CronDataIntervalTimetable

def _events():
    start = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)
    return [{"id": n, "at": start + _dt.timedelta(hours=6 * n)} for n in range(40)]

@dlt.resource(name="events", write_disposition="append")
def events(
    at=dlt.sources.incremental(
        "at",
        initial_value=_dt.datetime(2025, 12, 1, tzinfo=_dt.timezone.utc),
        allow_external_schedulers=True,
    ),
):
    yield _events()
"""


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _loaded_ids(pipeline: str) -> list[int]:
    import duckdb

    from airflow_dlt_provider.runtime.workdir import default_duckdb_path

    with duckdb.connect(str(default_duckdb_path(pipeline)), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT id FROM raw.events ORDER BY id").fetchall()]


def test_daily_windows_in_any_order_load_every_row_once(dags_folder):
    pipeline = _unique("windows")
    dag_id = _unique("dag")
    body = f"DltRunOperator(task_id='load', source=events, pipeline_name={pipeline!r}, dataset_name='raw')"
    path = write_dag(
        dags_folder,
        dag_id,
        body,
        imports=EVENTS_SOURCE,
        schedule='CronDataIntervalTimetable("@daily", timezone="UTC")',
    )
    try:
        dag = load_dag(path, dag_id)
        rows_per_run = {}
        # five consecutive daily windows, deliberately out of order: the state of one window never
        # narrows another (a backfill after newer runs still loads its window)
        for day in (4, 2, 6, 3, 5):
            logical_date = pendulum.datetime(2026, 1, day, tz="UTC")
            result = run_dag(dag, logical_date=logical_date)
            assert result.state == "success", result.task_states
            rows_per_run[day] = result.xcom("load")["rows"]
    finally:
        path.unlink()

    # the data interval of logical date D is [D - 1 day, D): four events each
    assert rows_per_run == {day: {"events": 4} for day in (4, 2, 6, 3, 5)}
    assert _loaded_ids(pipeline) == list(range(20))  # 2026-01-01 .. 2026-01-05, each once


def test_run_without_interval_uses_incremental_state(dags_folder):
    """``schedule=None``: manual runs have a zero-length interval, so the incremental keeps its own state."""
    pipeline = _unique("manual")
    dag_id = _unique("dag")
    body = f"DltRunOperator(task_id='load', source=events, pipeline_name={pipeline!r}, dataset_name='raw')"
    path = write_dag(dags_folder, dag_id, body, imports=EVENTS_SOURCE)
    try:
        dag = load_dag(path, dag_id)
        first = run_dag(dag, logical_date=pendulum.datetime(2026, 1, 3, tz="UTC"))
        second = run_dag(dag, logical_date=pendulum.datetime(2026, 1, 4, tz="UTC"))
    finally:
        path.unlink()

    assert first.state == "success" and second.state == "success"
    assert first.xcom("load")["rows"] == {"events": 40}  # from initial_value: everything
    assert second.xcom("load")["rows"] == {}  # nothing newer than the stored last value
    assert duckdb_counts(pipeline, "raw") == {"events": 40}
