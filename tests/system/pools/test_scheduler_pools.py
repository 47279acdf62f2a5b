"""Pools on a real scheduler: tasks of one pipeline never overlap; ``parallel-isolated`` tasks run side by side.

One batch for the whole module (a real scheduler is slow to start and to schedule): three DAG files are added,
every run is triggered while the dlt pools do not exist yet (nothing may start), then ``airflow-dlt pools sync``
creates the pools and all runs compete at once. The tests assert on what the metadata DB and the task logs
recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from support.airflow_cluster import AirflowCluster, TaskInstanceRow
from support.dag_runs import duckdb_counts

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(1500)]

SHARED_PIPELINE = "adp_shared"
SHARED_POOL = f"dlt_{SHARED_PIPELINE}"
ISOLATED_PIPELINE = "adp_isolated"
SHARED_DAGS = ("adp_pools_shared_a", "adp_pools_shared_b")
ISOLATED_DAG = "adp_pools_isolated"
LOG_DAG = "adp_log_levels"
RUNS = {"adp_pools_shared_a": 2, "adp_pools_shared_b": 1}  # concurrent runs per shared DAG
RESOURCES = ("alpha", "beta", "gamma")
ROWS_PER_RESOURCE = 3
WARNING_TEXT = "adp-test: a warning raised by dlt code inside the task"

SOURCE_CODE = '''
import time

import dlt


@dlt.source(name="slow")
def slow_source(delay: float = 1.0):
    """Independent resources whose extraction takes ``delay`` seconds each."""

    def make(name):
        @dlt.resource(name=name, write_disposition="append")
        def extract():
            time.sleep(delay)
            yield [{{"id": i, "resource": name}} for i in range({rows})]

        return extract

    return [make(name) for name in {resources!r}]
'''

GROUP_DAG = """
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltTaskGroup
{source}

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
         max_active_runs=4, max_active_tasks=8):
    DltTaskGroup(
        group_id="load",
        source=slow_source,
        source_kwargs={{"delay": {delay}}},
        pipeline_name={pipeline!r},
        dataset_name="pools_test",
        decompose={decompose!r},
    )
"""

LOG_LEVEL_DAG = """
import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator


@dlt.resource(name="noisy")
def noisy():
    from dlt.common import logger

    logger.warning({warning!r})
    yield {{"id": 1}}


with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    DltRunOperator(task_id="load", source=noisy, pipeline_name="adp_log_levels", dataset_name="log_levels")
"""


def _source(delay_rows: int = ROWS_PER_RESOURCE) -> str:
    return SOURCE_CODE.format(rows=delay_rows, resources=RESOURCES)


@dataclass
class Batch:
    cluster: AirflowCluster
    runs: dict[str, list[str]]  # dag_id -> run ids
    states: dict[str, str]  # run_id -> final state
    before_sync: list[TaskInstanceRow]  # task instances of the batch while the pools were missing
    pool_warning_seen: bool
    sync_output: str


def _wait_for_missing_pool_warning(cluster: AirflowCluster, pool: str, timeout: float) -> bool:
    """The scheduler's only reaction to a missing pool is a log line; wait for it."""
    line = f"Tasks using non-existent pool '{pool}' will not be scheduled"
    log_path = cluster.process_logs / "scheduler.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if line in log_path.read_text(errors="replace"):
            return True
        time.sleep(1)
    return False


@pytest.fixture(scope="module")
def batch(airflow_cluster: AirflowCluster) -> Batch:
    cluster = airflow_cluster
    for dag_id in SHARED_DAGS:
        code = GROUP_DAG.format(
            source=_source(), dag_id=dag_id, delay=1, pipeline=SHARED_PIPELINE, decompose="independent"
        )
        cluster.add_dag_file(code, dag_id)
    isolated = GROUP_DAG.format(
        source=_source(),
        dag_id=ISOLATED_DAG,
        delay=3,
        pipeline=ISOLATED_PIPELINE,
        decompose="parallel-isolated",
    )
    cluster.add_dag_file(isolated, ISOLATED_DAG)
    cluster.add_dag_file(LOG_LEVEL_DAG.format(dag_id=LOG_DAG, warning=WARNING_TEXT), LOG_DAG)
    for dag_id in (*SHARED_DAGS, ISOLATED_DAG, LOG_DAG):
        cluster.wait_for_dag(dag_id, timeout=180)

    runs: dict[str, list[str]] = {dag_id: [] for dag_id in (*SHARED_DAGS, ISOLATED_DAG, LOG_DAG)}
    for dag_id in SHARED_DAGS:
        runs[dag_id] += [cluster.trigger(dag_id) for _ in range(RUNS[dag_id])]
    runs[ISOLATED_DAG].append(cluster.trigger(ISOLATED_DAG))
    runs[LOG_DAG].append(cluster.trigger(LOG_DAG))

    # no dlt pool exists yet: the scheduler must leave every dlt task alone
    pool_warning_seen = _wait_for_missing_pool_warning(cluster, SHARED_POOL, timeout=60)
    before_sync = [ti for dag_id in runs for ti in cluster.task_instances(dag_id)]

    sync = cluster.sync_pools()
    states = {
        run_id: cluster.wait_for_run(dag_id, run_id, timeout=1200)
        for dag_id, run_ids in runs.items()
        for run_id in run_ids
    }
    return Batch(cluster, runs, states, before_sync, pool_warning_seen, sync.stdout)


def _span(tis: list[TaskInstanceRow]) -> str:
    def t(value: datetime | None) -> str:
        return value.strftime("%H:%M:%S.%f")[:-3] if value else "-"

    return "\n".join(
        f"  {ti.dag_id}/{ti.run_id}/{ti.task_id}: {t(ti.start_date)} -> {t(ti.end_date)}" for ti in tis
    )


def test_every_run_succeeds(batch: Batch) -> None:
    assert set(batch.states.values()) == {"success"}, batch.states


def test_missing_pool_keeps_tasks_unscheduled_until_pools_sync(batch: Batch) -> None:
    assert batch.pool_warning_seen, "the scheduler never logged the missing pool " + SHARED_POOL
    started = [ti for ti in batch.before_sync if ti.pool.startswith("dlt_") and ti.start_date is not None]
    assert started == [], f"tasks started although their pool did not exist:\n{_span(started)}"
    assert SHARED_POOL in batch.sync_output
    assert batch.cluster.pools()[SHARED_POOL] == 1


def test_tasks_of_one_pipeline_never_overlap_across_runs_and_dags(batch: Batch) -> None:
    tis = [ti for dag_id in SHARED_DAGS for ti in batch.cluster.task_instances(dag_id)]
    assert {ti.pool for ti in tis} == {SHARED_POOL}
    assert {ti.state for ti in tis} == {"success"}
    assert len(tis) == sum(RUNS.values()) * len(RESOURCES)
    tis.sort(key=lambda ti: ti.start_date or datetime.max)
    overlapping = [(a, b) for i, a in enumerate(tis) for b in tis[i + 1 :] if a.overlaps(b)]
    assert overlapping == [], f"tasks of pool {SHARED_POOL} overlapped:\n{_span(tis)}"


def test_shared_pipeline_loaded_every_run_once(batch: Batch) -> None:
    runs = sum(RUNS.values())
    path = batch.cluster.home / "dlt" / "duckdb" / f"{SHARED_PIPELINE}.duckdb"
    counts = duckdb_counts(SHARED_PIPELINE, "pools_test", path=path)
    assert counts == {name: runs * ROWS_PER_RESOURCE for name in RESOURCES}


def test_parallel_isolated_tasks_run_side_by_side(batch: Batch) -> None:
    tis = batch.cluster.task_instances(ISOLATED_DAG)
    assert len(tis) == len(RESOURCES)
    assert len({ti.pool for ti in tis}) == len(RESOURCES), "each isolated task has its own pool"
    assert all(ti.pool.startswith(f"dlt_{ISOLATED_PIPELINE}__") for ti in tis)
    first = next(ti for ti in tis if ti.task_id == f"load.{RESOURCES[0]}")
    others = [ti for ti in tis if ti is not first]
    assert all(first.end_date and ti.start_date and ti.start_date >= first.end_date for ti in others), _span(
        tis
    )
    assert others[0].overlaps(others[1]), f"parallel-isolated tasks did not run side by side:\n{_span(tis)}"


def test_dlt_warning_reaches_task_log_as_warning(batch: Batch) -> None:
    run_id = batch.runs[LOG_DAG][0]
    records: list[dict[str, Any]] = batch.cluster.task_log_records(LOG_DAG, run_id, "load")
    matching = [r for r in records if WARNING_TEXT in str(r.get("event", ""))]
    assert matching, "the dlt warning is missing from the task log:\n" + batch.cluster.task_log(
        LOG_DAG, run_id, "load"
    )
    assert {r["level"] for r in matching} == {"warning"}, matching
