"""Retries that resume and data intervals on a real scheduler (LocalExecutor, PostgreSQL metadata DB and
PostgreSQL destination).

One batch for the module (a real scheduler is slow to start and to schedule): every DAG file is added at once,
``airflow-dlt pools sync`` creates their pools, the runs are triggered and watched together:

- ``adp_resume_kill_append`` / ``adp_resume_kill_merge``: the task process is killed with SIGKILL while its
  load is half done (rows already in the table being loaded, more to come); Airflow retries it and the table
  ends with exactly the expected rows, no duplicates;
- ``adp_resume_windows``: five manual runs over consecutive daily windows of an incremental resource
  (``allow_external_schedulers=True``); the load of one window fails on its first try (the destination rejects
  the inserts of that try), the retry loads the pending package without calling the source again;
- ``adp_resume_catchup``: ``catchup=True`` over the last four days: the scheduler's runs load each window once.

The destination database gets an event trigger that gives every table created in an ``adp_*`` schema an
insert trigger: inserts by the role ``adp_flaky`` fail with a connection error (SQLSTATE 08006, transient
for dlt), inserts into ``adp_kill*`` schemas sleep 1 s per statement so the test can catch a load midway.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from support.airflow_cluster import AirflowCluster
from support.postgres import PostgresServer

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(1200)]

WAREHOUSE = "adp_resume_wh"
FLAKY_ROLE = "adp_flaky"
FLAKY_PASSWORD = "adp_flaky_pw"
CONN_UP = "adp_resume_pg"
CONN_FLAKY = "adp_resume_pg_flaky"
KILL_ROWS = 400
WINDOW_DATES = [datetime(2026, 1, day, tzinfo=timezone.utc) for day in range(2, 7)]  # logical dates
RETRIED_WINDOW = datetime(2026, 1, 4, tzinfo=timezone.utc)  # its window is [01-03, 01-04)
CATCHUP_DAYS = 4

TRIGGERS_SQL = """
CREATE OR REPLACE FUNCTION adp_insert_hook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_user = 'adp_flaky' THEN
    RAISE EXCEPTION 'adp test: the destination is not reachable on this try' USING ERRCODE = '08006';
  END IF;
  IF TG_TABLE_SCHEMA LIKE 'adp_kill%' THEN
    PERFORM pg_sleep(1.0);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION adp_add_insert_hook() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE created record;
BEGIN
  FOR created IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' LOOP
    IF created.schema_name LIKE 'adp%' AND created.object_identity NOT LIKE '%._dlt%' THEN
      EXECUTE format(
        'CREATE TRIGGER adp_insert_hook BEFORE INSERT ON %s FOR EACH STATEMENT EXECUTE FUNCTION adp_insert_hook()',
        created.object_identity
      );
    END IF;
  END LOOP;
END $$;

CREATE EVENT TRIGGER adp_add_insert_hook ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION adp_add_insert_hook();
"""

KILL_DAG = """
import datetime as _dt
import os

import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator

# many small load jobs, loaded one after the other, so a load can be caught half done
os.environ["NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS"] = "25"
os.environ["LOAD__WORKERS"] = "1"
WORK = {work!r}


@dlt.resource(name="items", primary_key="id")
def items():
    with open(WORK + "/{dag_id}.pid", "w") as handle:
        handle.write(str(os.getpid()))
    with open(WORK + "/{dag_id}.extractions", "a") as handle:
        handle.write("x")
    yield [{{"id": n, "value": "v%d" % n}} for n in range({rows})]


with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    DltRunOperator(
        task_id="load",
        source=items,
        pipeline_name={dag_id!r},
        destination_conn_id={conn!r},
        dataset_name={dataset!r},
        run_kwargs={{"write_disposition": {disposition!r}}},
        retries=1,
        retry_delay=_dt.timedelta(seconds=2),
    )
"""

# events every 6 hours from 01-01: four per daily window
WINDOWS_DAG = """
import datetime as _dt

import dlt
import pendulum
from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow_dlt_provider import DltRunOperator
from airflow_dlt_provider._compat import get_current_context

WORK = {work!r}
BASE = _dt.datetime({base.year}, {base.month}, {base.day}, tzinfo=_dt.timezone.utc)


@dlt.resource(name="events", write_disposition="append")
def events(
    at=dlt.sources.incremental("at", initial_value=BASE - _dt.timedelta(days=30), allow_external_schedulers=True),
):
    with open(WORK + "/{dag_id}.extractions", "a") as handle:
        handle.write(get_current_context()["run_id"] + "\\n")
    yield [{{"id": n, "at": BASE + _dt.timedelta(hours=6 * n)}} for n in range(4 * {days})]


with DAG(
    {dag_id!r},
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime({start.year}, {start.month}, {start.day}, tz="UTC"),
    catchup={catchup!r},
):
    DltRunOperator(
        task_id="load",
        source=events,
        pipeline_name={dag_id!r},
        # the first try of the retried window writes as a role whose inserts fail (a transient error)
        destination_conn_id=(
            "{{{{ '{flaky}' if ti.try_number == 1 and data_interval_start.strftime('%Y-%m-%d') == '{retried_start}' "
            "else '{up}' }}}}"
        ),
        dataset_name={dataset!r},
        retries=1,
        retry_delay=_dt.timedelta(seconds=2),
    )
"""


@dataclass
class Batch:
    cluster: AirflowCluster
    postgres: PostgresServer
    work: Path
    runs: dict[str, list[str]]  # dag_id -> run ids
    killed: dict[str, int]  # dag_id -> killed pid

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.postgres.execute(sql, dbname=WAREHOUSE)

    def extractions(self, dag_id: str) -> str:
        path = self.work / f"{dag_id}.extractions"
        return path.read_text() if path.exists() else ""


def _count(postgres: PostgresServer, table: str) -> int:
    try:
        return int(postgres.execute(f"SELECT count(*) FROM {table}", dbname=WAREHOUSE)[0][0])
    except Exception:  # not created yet
        return 0


def _insert_in_flight(postgres: PostgresServer, table: str) -> bool:
    """True while an INSERT into ``table`` runs (sleeping in the test trigger), i.e. before it commits."""
    schema, name = table.split(".")
    rows = postgres.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
        "AND wait_event = 'PgSleep' AND query ILIKE %s",
        (WAREHOUSE, f'INSERT INTO "{schema}"."{name}"%'),
        dbname=WAREHOUSE,
    )
    return bool(rows[0][0])


def _kill_midway(
    postgres: PostgresServer, work: Path, targets: dict[str, str], timeout: float
) -> dict[str, int]:
    """SIGKILL each DAG's task process in the middle of its load.

    Midway means: the table being loaded already holds rows of earlier jobs (some but not all) and another
    INSERT is running, not committed. (A kill in the instant between a job's commit and dlt recording it makes
    the retry replay that job: see the report on at-least-once jobs.)
    """
    killed: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while len(killed) < len(targets) and time.monotonic() < deadline:
        for dag_id, table in targets.items():
            pid_file = work / f"{dag_id}.pid"
            if dag_id in killed or not pid_file.exists():
                continue
            if 0 < _count(postgres, table) < KILL_ROWS and _insert_in_flight(postgres, table):
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                killed[dag_id] = pid
        time.sleep(0.1)
    assert len(killed) == len(targets), f"could not catch every load midway; killed: {killed}"
    return killed


def _put_connection(
    cluster: AirflowCluster, postgres: PostgresServer, conn_id: str, login: str, password: str
) -> None:
    """A ``postgres`` Airflow connection to the warehouse (password stored unencrypted, as without a Fernet key)."""
    cluster.query("DELETE FROM connection WHERE conn_id = %s", (conn_id,))
    cluster.query(
        "INSERT INTO connection (conn_id, conn_type, host, schema, login, password, port, is_encrypted, "
        "is_extra_encrypted) VALUES (%s, 'postgres', %s, %s, %s, %s, %s, false, false)",
        (conn_id, postgres.host, WAREHOUSE, login, password, postgres.port),
    )


def _put_pool(cluster: AirflowCluster, name: str) -> None:
    if name not in cluster.pools():
        cluster.query(
            "INSERT INTO slot_pool (pool, slots, description, include_deferred) VALUES (%s, 1, 'test', false)",
            (name,),
        )


@pytest.fixture(scope="module")
def batch(airflow_cluster: AirflowCluster, postgres_server: PostgresServer, tmp_path_factory) -> Batch:
    cluster, postgres = airflow_cluster, postgres_server
    work = tmp_path_factory.mktemp("resume-work")
    os.chmod(work, 0o777)
    postgres.create_database(WAREHOUSE)
    postgres.execute(TRIGGERS_SQL, dbname=WAREHOUSE)
    postgres.create_user(FLAKY_ROLE, FLAKY_PASSWORD, superuser=True)
    # straight into the metadata DB: the CLI costs a full Airflow start per call
    _put_connection(cluster, postgres, CONN_UP, postgres.user, postgres.password)
    _put_connection(cluster, postgres, CONN_FLAKY, FLAKY_ROLE, FLAKY_PASSWORD)

    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    catchup_start = today - timedelta(days=CATCHUP_DAYS)
    dags = {
        "adp_resume_kill_append": KILL_DAG.format(
            work=str(work), dag_id="adp_resume_kill_append", rows=KILL_ROWS, conn=CONN_UP,
            dataset="adp_kill_append", disposition="append",
        ),
        "adp_resume_kill_merge": KILL_DAG.format(
            work=str(work), dag_id="adp_resume_kill_merge", rows=KILL_ROWS, conn=CONN_UP,
            dataset="adp_kill_merge", disposition="merge",
        ),
        "adp_resume_windows": WINDOWS_DAG.format(
            work=str(work), dag_id="adp_resume_windows", base=datetime(2026, 1, 1), days=10,
            start=datetime(2026, 1, 1), catchup=False, flaky=CONN_FLAKY, up=CONN_UP,
            retried_start=(RETRIED_WINDOW - timedelta(days=1)).strftime("%Y-%m-%d"), dataset="adp_windows",
        ),
        "adp_resume_catchup": WINDOWS_DAG.format(
            work=str(work), dag_id="adp_resume_catchup", base=catchup_start - timedelta(days=1),
            days=CATCHUP_DAYS + 2, start=catchup_start, catchup=True, flaky=CONN_FLAKY, up=CONN_UP,
            retried_start="never", dataset="adp_catchup",
        ),
    }  # fmt: skip
    for dag_id, code in dags.items():
        cluster.add_dag_file(code, dag_id)
        _put_pool(cluster, f"dlt_{dag_id}")  # the operator's default pool: dlt_<pipeline_name>
    for dag_id in dags:
        cluster.wait_for_dag(dag_id)
        cluster.unpause(dag_id)

    kill_targets = {
        "adp_resume_kill_append": "adp_kill_append.items",
        "adp_resume_kill_merge": "adp_kill_merge_staging.items",
    }
    runs: dict[str, list[str]] = {dag_id: [] for dag_id in dags}
    # the watcher starts before the triggers: on Airflow 2 each trigger is a CLI call of several seconds, and
    # a kill DAG's whole load (about 17 s) could finish while the later runs are still being triggered
    with ThreadPoolExecutor(max_workers=1) as watcher:
        killing = watcher.submit(_kill_midway, postgres, work, kill_targets, 300)
        for dag_id in kill_targets:
            runs[dag_id].append(cluster.trigger(dag_id))
        for logical_date in WINDOW_DATES:
            runs["adp_resume_windows"].append(
                cluster.trigger(
                    "adp_resume_windows", logical_date=logical_date, run_id=f"window__{logical_date:%Y-%m-%d}"
                )
            )
        killed = killing.result()
    for dag_id, run_ids in runs.items():
        for run_id in run_ids:
            cluster.wait_for_run(dag_id, run_id, timeout=300)

    def catchup_done() -> bool:
        finished = [r for r in cluster.dag_runs("adp_resume_catchup") if r["state"] in ("success", "failed")]
        return len(finished) >= CATCHUP_DAYS

    cluster._wait(catchup_done, 300, "the catch-up runs to finish")
    runs["adp_resume_catchup"] = [r["run_id"] for r in cluster.dag_runs("adp_resume_catchup")]
    return Batch(cluster=cluster, postgres=postgres, work=work, runs=runs, killed=killed)


def _task(batch: Batch, dag_id: str, run_id: str) -> Any:
    (ti,) = [ti for ti in batch.cluster.task_instances(dag_id, run_id) if ti.task_id == "load"]
    return ti


@pytest.mark.parametrize(
    ("dag_id", "table"),
    [("adp_resume_kill_append", "adp_kill_append.items"), ("adp_resume_kill_merge", "adp_kill_merge.items")],
)
def test_task_killed_during_load_is_retried_and_loads_every_row_once(batch, dag_id, table):
    (run_id,) = batch.runs[dag_id]
    ti = _task(batch, dag_id, run_id)
    assert (ti.state, ti.try_number) == ("success", 2), ti
    total, distinct = batch.rows(f"SELECT count(*), count(DISTINCT id) FROM {table}")[0]
    assert (total, distinct) == (KILL_ROWS, KILL_ROWS)
    assert batch.extractions(dag_id) == "x"  # the retry loaded the killed attempt's package
    retry_log = batch.cluster.task_log(dag_id, run_id, "load", try_number=2)
    # the pending package belongs to the pipeline: the retry loads it, unless the next window's task got the
    # pool first (during the retry delay) and loaded it; then the retry reports it from the done record that
    # task wrote for it, confirmed in _dlt_loads (extracting nothing)
    assert (
        "found 1 pending load package(s) of an earlier attempt of this task" in retry_log
        or "not extracting again; reporting them" in retry_log
    ), retry_log
    assert batch.cluster.xcom(dag_id, run_id, "load")["rows"] == {"items": KILL_ROWS}


def test_retry_after_load_failure_does_not_call_the_source_again(batch):
    dag_id = "adp_resume_windows"
    run_id = f"window__{RETRIED_WINDOW:%Y-%m-%d}"
    ti = _task(batch, dag_id, run_id)
    assert (ti.state, ti.try_number) == ("success", 2), ti
    extracted_by = batch.extractions(dag_id).splitlines()
    assert extracted_by.count(run_id) == 1
    first_log = batch.cluster.task_log(dag_id, run_id, "load", try_number=1)
    assert "the retry loads them and does not extract again" in first_log
    retry_log = batch.cluster.task_log(dag_id, run_id, "load", try_number=2)
    # the pending package belongs to the pipeline: the retry loads it, unless the next window's task got the
    # pool first (during the retry delay) and loaded it; then the retry reports it from the done record that
    # task wrote for it, confirmed in _dlt_loads (extracting nothing)
    assert (
        "found 1 pending load package(s) of an earlier attempt of this task" in retry_log
        or "not extracting again; reporting them" in retry_log
    ), retry_log
    assert batch.cluster.xcom(dag_id, run_id, "load")["rows"] == {"events": 4}


def test_five_daily_windows_one_retried_load_every_row_once(batch):
    dag_id = "adp_resume_windows"
    for run_id in batch.runs[dag_id]:
        assert _task(batch, dag_id, run_id).state == "success"
        assert batch.cluster.xcom(dag_id, run_id, "load")["rows"] == {"events": 4}
    ids = [row[0] for row in batch.rows("SELECT id FROM adp_windows.events ORDER BY id")]
    assert ids == list(range(20))  # windows 01-01 .. 01-05, four events each, once


def test_catchup_loads_each_window_once(batch):
    dag_id = "adp_resume_catchup"
    runs = batch.cluster.dag_runs(dag_id)
    scheduled = [r for r in runs if r["run_type"] == "scheduled"]
    assert len(scheduled) == CATCHUP_DAYS
    assert all(r["state"] == "success" for r in scheduled), scheduled
    windows = sorted((r["data_interval_start"], r["data_interval_end"]) for r in scheduled)
    assert all(end - start == timedelta(days=1) for start, end in windows)
    assert all(b[0] == a[1] for a, b in zip(windows, windows[1:], strict=False))  # consecutive
    for run in scheduled:
        assert batch.cluster.xcom(dag_id, run["run_id"], "load")["rows"] == {"events": 4}
    # events start one day before the first window: ids 4 .. 4 * (CATCHUP_DAYS + 1) - 1, each once
    ids = [row[0] for row in batch.rows("SELECT id FROM adp_catchup.events ORDER BY id")]
    assert ids == list(range(4, 4 * (CATCHUP_DAYS + 1)))
