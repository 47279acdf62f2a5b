"""One holder of a pipeline at a time on a real scheduler, whatever the pools and the backfills allow.

1. A pipeline's pool raised to two slots (the misconfiguration users make) and two runs of a DAG with
   ``max_active_runs=2`` triggered together: both task instances run at once, yet only one holds the
   pipeline's folder at a time (holder.py's lock); the holding spans come from the task logs, which bracket
   them with ``this task holds its folder`` / ``this task releases its folder``. Both runs succeed and every
   row of each run is in the destination exactly once.
2. ``airflow backfill create`` (its own ``--max-active-runs``, beside the schedule) of a ``decompose="mapped"``
   DAG while its scheduled run is running: the discover task of a run that meets another fails retryably and
   goes on once that run is done (runtime/discover.py), so no component is loaded by two task instances at
   once; every run succeeds and loads its rows once.

The sources do not rest on timing: they hold on until the task logs show the moment a test is about (the
other run's task waiting for the pipeline; a backfill run's discover task refused), at most 90 s. Both DAG
files are registered together at the start of the module (registration is the slow part); the mapped DAG is
paused until its test unpauses it, so its scheduled run starts only then.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support.airflow_cluster import AirflowCluster, TaskInstanceRow, parse_task_log

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(900)]

# ---------------------------------------------------------------- 1. a pipeline pool with two slots

TWO_SLOTS_DAG = "adp_holders_two_slots"
TWO_SLOTS_PIPELINE = "adp_holders"
TWO_SLOTS_POOL = f"dlt_{TWO_SLOTS_PIPELINE}"
ROWS = 5
EXTRACTING = "adp-test: extracting the rows of run "
WAITS = "is held by another process on this worker; waiting up to"  # holder.py, a task that waits
BUSY = "PipelineBusyError"  # holder.py, a task that waited in vain (retried)

# The DAGs' sources hold on until the task logs show the moment a test is about (at most 90 s): time alone
# (a sleep) would not make two tasks of a loaded machine meet.
GATE = """
import glob
import time


def wait_for_log_line(pattern, text, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in glob.glob(pattern):
            try:
                with open(path, errors="replace") as handle:
                    if text in handle.read():
                        return True
            except OSError:
                pass
        time.sleep(0.5)
    return False
"""


def two_slots_code(logs: Path) -> str:
    task_logs = f"{logs}/dag_id={TWO_SLOTS_DAG}/run_id=*/task_id=load/attempt=*.log"
    return f"""
import logging
from datetime import timedelta

import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator
{GATE}

@dlt.source(name="holders")
def holders_source(run_id: str = "", rows: int = {ROWS}):
    @dlt.resource(name="events", write_disposition="append")
    def events():
        logging.getLogger("adp_test").info("{EXTRACTING}%s", run_id)
        # the first holder keeps the pipeline until the other run's task is seen waiting for it
        wait_for_log_line({task_logs!r}, {WAITS!r})
        yield [{{"id": i, "run_id": run_id}} for i in range(int(rows))]

    return events


with DAG({TWO_SLOTS_DAG!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
         max_active_runs=2):
    DltRunOperator(task_id="load", source=holders_source, source_kwargs={{"run_id": "{{{{ run_id }}}}"}},
                   pipeline_name={TWO_SLOTS_PIPELINE!r}, dataset_name="holders_test",
                   retries=2, retry_delay=timedelta(seconds=2))
"""


# ---------------------------------------------------------------- 2. a backfill beside the schedule

BACKFILL_DAG = "adp_holders_backfill"
BACKFILL_PIPELINE = "adp_bf"
COMPONENTS = ("alpha", "beta")
COMPONENT_ROWS = 3
BACKFILL_FROM, BACKFILL_TO = "2026-11-01", "2026-11-02"  # two daily runs
BACKFILL_MAX_ACTIVE_RUNS = 2  # more than the docs advise: the backfill's runs also meet each other
REFUSED = "has another running DAG run"  # runtime/discover.py, a discover task that yields to another run


def backfill_code(logs: Path) -> str:
    refusals = f"{logs}/dag_id={BACKFILL_DAG}/run_id=backfill__*/task_id=load.discover/attempt=*.log"
    return f"""
import time
from datetime import timedelta

import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltTaskGroup
{GATE}

@dlt.source(name="slow")
def slow_source(run_id: str = ""):
    def make(name):
        @dlt.resource(name=name, write_disposition="append")
        def extract():
            if run_id.startswith("scheduled__"):  # keeps loading until a backfill run has met it
                wait_for_log_line({refusals!r}, {REFUSED!r})
            time.sleep(1)
            yield [{{"id": i, "run_id": run_id}} for i in range({COMPONENT_ROWS})]

        return extract

    return [make(name) for name in {COMPONENTS!r}]


# paused until the test unpauses it: the scheduler then creates today's run (catchup=False)
with DAG({BACKFILL_DAG!r}, schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         catchup=False, max_active_runs=1, is_paused_upon_creation=True):
    DltTaskGroup("load", source=slow_source, source_kwargs={{"run_id": "{{{{ run_id }}}}"}},
                 pipeline_name={BACKFILL_PIPELINE!r}, dataset_name="backfill_test", decompose="mapped",
                 max_parallel=2, default_args={{"retries": 10, "retry_delay": timedelta(seconds=2)}})
"""


HOLDS = re.compile(r"^pipeline '(?P<pipeline>[^']+)': this task holds its folder")
RELEASES = re.compile(r"^pipeline '(?P<pipeline>[^']+)': this task releases its folder")


@pytest.fixture(scope="module")
def cluster(airflow_cluster: AirflowCluster) -> Iterator[AirflowCluster]:
    """The session's cluster with both DAGs registered and their pools created (one slot; the mapped pool two)."""
    airflow_cluster.add_dag_file(two_slots_code(airflow_cluster.logs_folder), TWO_SLOTS_DAG)
    airflow_cluster.add_dag_file(backfill_code(airflow_cluster.logs_folder), BACKFILL_DAG)
    for dag_id in (TWO_SLOTS_DAG, BACKFILL_DAG):
        airflow_cluster.wait_for_dag(dag_id, timeout=240)
    synced = airflow_cluster.sync_pools()
    pools = airflow_cluster.pools()
    assert pools.get(TWO_SLOTS_POOL) == 1, synced.stdout
    assert pools.get(f"dlt_{BACKFILL_PIPELINE}__mapped") == 2, synced.stdout
    try:
        yield airflow_cluster
    finally:
        # leave the session as `airflow-dlt pools sync` expects it (a pool with other slots makes it exit 1),
        # and spare the DAG processor re-parsing the two files for the rest of the session
        airflow_cluster.set_pool(TWO_SLOTS_POOL, 1)
        airflow_cluster.pause(BACKFILL_DAG)
        for dag_id in (TWO_SLOTS_DAG, BACKFILL_DAG):
            (airflow_cluster.dags_folder / f"{dag_id}.py").unlink(missing_ok=True)


# ---------------------------------------------------------------- reading the outcome


@dataclass(frozen=True)
class Attempt:
    """One try of a task instance as its log file tells it."""

    run_id: str
    map_index: int
    try_number: int
    raw: str  # the log file (an error's type and traceback are fields of its record, not of its event)
    records: list[dict[str, Any]]

    def text(self) -> str:
        return self.raw

    def moment(self, pattern: re.Pattern[str] | str) -> datetime | None:
        """When the first line matching ``pattern`` was logged (the record's own timestamp)."""
        for record in self.records:
            event = str(record.get("event", ""))
            found = pattern.search(event) if isinstance(pattern, re.Pattern) else event.startswith(pattern)
            if found:
                return datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00"))
        return None


def attempts(cluster: AirflowCluster, dag_id: str, task_id: str) -> list[Attempt]:
    """Every try of ``task_id`` in every run of ``dag_id``, read from the task log files."""
    found = []
    for path in sorted(
        (cluster.logs_folder / f"dag_id={dag_id}").glob(f"run_id=*/task_id={task_id}/**/*.log")
    ):
        parts = {part.split("=", 1)[0]: part.split("=", 1)[1] for part in path.parts if "=" in part}
        found.append(
            Attempt(
                run_id=parts["run_id"],
                map_index=int(parts.get("map_index", -1)),
                try_number=int(path.stem.split("=", 1)[1]),
                raw=(raw := path.read_text(errors="replace")),
                records=parse_task_log(raw),
            )
        )
    return found


def task_tries(cluster: AirflowCluster, dag_id: str, task_id: str) -> list[TaskInstanceRow]:
    """Every try of ``task_id`` in every run of ``dag_id``: ``task_instance_history`` + ``task_instance``."""
    columns = "dag_id, run_id, task_id, map_index, state, start_date, end_date, try_number, pool, hostname"
    where = "WHERE dag_id = %s AND task_id = %s"
    rows = cluster.query(
        f"SELECT {columns} FROM task_instance_history {where} UNION ALL "
        f"SELECT {columns} FROM task_instance {where} ORDER BY 6",
        (dag_id, task_id, dag_id, task_id),
    )
    return [TaskInstanceRow(*row) for row in rows]


def rows_per_run(path: Path, table: str) -> dict[str, tuple[int, int]]:
    """``{run_id: (rows, distinct ids)}`` of a table of a DuckDB file the tasks loaded."""
    with duckdb.connect(str(path), read_only=True) as conn:
        result = conn.execute(f"SELECT run_id, count(*), count(DISTINCT id) FROM {table} GROUP BY run_id")
        return {run_id: (rows, ids) for run_id, rows, ids in result.fetchall()}


def _show(spans: list[tuple[Any, ...]]) -> str:
    return "\n".join("  " + " ".join(str(part) for part in span) for span in spans)


# ---------------------------------------------------------------- the tests


def test_two_slot_pool_still_one_holder_at_a_time(cluster: AirflowCluster) -> None:
    cluster.set_pool(TWO_SLOTS_POOL, 2)
    assert cluster.pools()[TWO_SLOTS_POOL] == 2
    try:
        runs = [cluster.trigger(TWO_SLOTS_DAG) for _ in range(2)]
        states = {run_id: cluster.wait_for_run(TWO_SLOTS_DAG, run_id, timeout=300) for run_id in runs}
    finally:
        cluster.set_pool(TWO_SLOTS_POOL, 1)
    assert states == dict.fromkeys(runs, "success"), states

    tries = [ti for ti in task_tries(cluster, TWO_SLOTS_DAG, "load") if ti.run_id in runs]
    assert {ti.pool for ti in tries} == {TWO_SLOTS_POOL}
    # the two slots let both task instances run at once: the pool does not keep them apart here
    first_tries = [ti for ti in tries if ti.try_number == 1]
    assert len(first_tries) == 2 and first_tries[0].overlaps(first_tries[1]), _show(
        [(ti.run_id, ti.try_number, ti.state, ti.start_date, ti.end_date) for ti in tries]
    )

    logs = [a for a in attempts(cluster, TWO_SLOTS_DAG, "load") if a.run_id in runs]
    assert {a.run_id for a in logs} == set(runs)
    # ... yet the second would-be holder waited for the first (or failed retryably and was retried)
    contended = [a for a in logs if WAITS in a.text() or BUSY in a.text()]
    assert contended, "no task waited for the pipeline although both ran at once:\n" + "\n".join(
        a.text() for a in logs
    )

    spans = []
    for attempt in logs:
        held, released = attempt.moment(HOLDS), attempt.moment(RELEASES)
        extracting = attempt.moment(EXTRACTING)
        if held is None:  # a try that never held the pipeline: it must have failed waiting for it
            assert BUSY in attempt.text() and extracting is None, attempt.text()
            continue
        assert released is not None and extracting is not None, attempt.text()
        assert held <= extracting <= released, (attempt.run_id, held, extracting, released)
        spans.append((attempt.run_id, attempt.try_number, held, released))
    # each run held the pipeline once (a try that held it and failed would show here)
    assert sorted(run for run, *_ in spans) == sorted(runs), _show(spans)
    spans.sort(key=lambda span: span[2])
    overlapping = [(a, b) for a, b in itertools.pairwise(spans) if b[2] < a[3]]
    assert not overlapping, f"two task instances held the pipeline at once:\n{_show(spans)}"

    path = cluster.home / "dlt" / "duckdb" / f"{TWO_SLOTS_PIPELINE}.duckdb"
    assert rows_per_run(path, "holders_test.events") == dict.fromkeys(runs, (ROWS, ROWS))
    for run_id in runs:
        summary = cluster.xcom(TWO_SLOTS_DAG, run_id, "load")
        assert summary["rows"] == {"events": ROWS}, summary


def _wait_for_scheduled_run(cluster: AirflowCluster) -> str:
    def running() -> str | None:
        for run in cluster.dag_runs(BACKFILL_DAG):
            if run["run_type"] == "scheduled" and run["state"] == "running":
                return str(run["run_id"])
        return None

    return str(cluster._wait(running, 120, f"a scheduled run of {BACKFILL_DAG} to be running"))


def test_backfill_beside_a_scheduled_run_of_a_mapped_dag(cluster: AirflowCluster) -> None:
    cluster.unpause(BACKFILL_DAG)
    scheduled = _wait_for_scheduled_run(cluster)
    created = cluster.run_cli(
        "backfill", "create", "--dag-id", BACKFILL_DAG, "--from-date", BACKFILL_FROM, "--to-date", BACKFILL_TO,
        "--max-active-runs", str(BACKFILL_MAX_ACTIVE_RUNS),
    )  # fmt: skip
    backfills = [run["run_id"] for run in cluster.dag_runs(BACKFILL_DAG) if run["run_type"] == "backfill"]
    assert len(backfills) == 2, created.stdout + created.stderr
    runs = [scheduled, *backfills]
    states = {run_id: cluster.wait_for_run(BACKFILL_DAG, run_id, timeout=400) for run_id in runs}
    assert states == dict.fromkeys(runs, "success"), states

    # the backfill really met a running run: a discover task refused to go on, naming it, and was retried
    refusals = [
        a
        for a in attempts(cluster, BACKFILL_DAG, "load.discover")
        if "has another running DAG run" in a.text()
    ]
    assert any(scheduled in a.text() for a in refusals), [a.text() for a in refusals]
    assert "ConcurrentDagRunError" in refusals[0].text()

    discover = [ti for ti in task_tries(cluster, BACKFILL_DAG, "load.discover") if ti.run_id in runs]
    assert {ti.run_id for ti in discover if ti.state == "success"} == set(runs)
    assert {ti.state for ti in discover} <= {"success", "up_for_retry", "failed"}, discover

    # no component loaded by two task instances at once (map indexes of one run load side by side)
    loads = [ti for ti in task_tries(cluster, BACKFILL_DAG, "load.load") if ti.run_id in runs]
    names = dict(
        cluster.query(
            "SELECT run_id || '/' || map_index, rendered_map_index FROM task_instance "
            "WHERE dag_id = %s AND task_id = 'load.load'",
            (BACKFILL_DAG,),
        )
    )
    spans = [
        (ti.run_id, names[f"{ti.run_id}/{ti.map_index}"], ti.state, ti.start_date, ti.end_date)
        for ti in loads
    ]
    assert sorted((run, name) for run, name, state, *_ in spans if state == "success") == sorted(
        (run, name) for run in runs for name in COMPONENTS
    ), _show(spans)
    same_component = [
        (a, b)
        for i, a in enumerate(spans)
        for b in spans[i + 1 :]
        if a[1] == b[1] and a[3] < b[4] and b[3] < a[4]
    ]
    assert not same_component, f"a component was loaded by two task instances at once:\n{_show(spans)}"

    for name in COMPONENTS:
        path = cluster.home / "dlt" / "duckdb" / f"{BACKFILL_PIPELINE}__{name}.duckdb"
        assert rows_per_run(path, f"backfill_test.{name}") == dict.fromkeys(
            runs, (COMPONENT_ROWS, COMPONENT_ROWS)
        ), name
