"""Runs across workers: the CeleryExecutor with two workers on this machine (see ``CeleryAirflowCluster``).

One batch for the module: every DAG file is added at once, ``airflow-dlt pools sync`` creates their pools, and
the runs are triggered together:

- ``adp_celery_isolated``: ``decompose="parallel-isolated"`` over four slow components (5 s each); after the
  first, the other three run side by side, on both workers (the kill task below holds the fourth slot);
- ``adp_celery_shared_a`` / ``_b`` (triggered once the isolated components run): two DAGs of one pipeline
  (one-slot pool ``dlt_adp_celery_shared``); its tasks never overlap, whichever worker runs them;
- ``adp_celery_kill``: one load (10 jobs of 20 rows, loaded one after the other). Once 3 jobs are committed the
  load waits for a file the test writes; the test waits for the other runs to finish, then SIGKILLs the whole
  worker running it (worker, pool processes and the task process), and writes the file. The scheduler notices
  the dead task (lowered heartbeat timeout), the retry runs on the other worker.
- ``adp_celery_last`` (``retries=0``), after that: its run 1 loads on the surviving worker, which is killed
  the same way; with no retry left the run fails. The first worker comes back (a replacement machine) and a
  new run 2 finishes run 1's pending package from the shared package store before it loads its own.
- ``adp_celery_parallel``, last: one task with dlt's own parallelism (normalize worker processes, parallelized
  resources on extract threads, load threads; tests/support/parallel_dag.py) in a prefork pool's daemonic process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from support.airflow_cluster import CeleryAirflowCluster, TaskInstanceRow, airflow_major
from support.dag_runs import duckdb_counts
from support.parallel_dag import EXPECTED_ROWS, check_parallel_run, extracted_by, parallel_dag

pytestmark = [
    pytest.mark.scheduler,
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(airflow_major() < 3, reason="the CeleryExecutor tests run on Airflow 3 only"),
]

ISOLATED_DAG = "adp_celery_isolated"
ISOLATED_PIPELINE = "adp_celery_iso"
ISOLATED_RESOURCES = ("r1", "r2", "r3", "r4")
SHARED_DAGS = ("adp_celery_shared_a", "adp_celery_shared_b")
SHARED_PIPELINE = "adp_celery_shared"
SHARED_POOL = f"dlt_{SHARED_PIPELINE}"
SHARED_RESOURCES = ("s1", "s2")
KILL_DAG = "adp_celery_kill"
LAST_DAG = "adp_celery_last"
PARALLEL_DAG_ID = "adp_celery_parallel"
KILL_ROWS = 200
ROWS_PER_JOB = 20
JOBS_BEFORE_KILL = 3

SLOW_DAG = """
import time

import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltTaskGroup


@dlt.source(name="slow")
def slow_source():
    def make(name):
        @dlt.resource(name=name, write_disposition="append")
        def extract():
            time.sleep({delay})
            yield [{{"id": i, "resource": name}} for i in range(3)]

        return extract

    return [make(name) for name in {resources!r}]


with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
         max_active_tasks=8):
    DltTaskGroup(
        group_id="load",
        source=slow_source,
        pipeline_name={pipeline!r},
        dataset_name="celery_test",
        decompose={decompose!r},
    )
"""

KILL_DAG_CODE = """
import datetime as _dt
import os
import time

import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator
from dlt.common.destination.client import RunnableLoadJob

# many small load jobs, loaded one after the other
os.environ["NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS"] = "{rows_per_job}"
os.environ["LOAD__WORKERS"] = "1"
WORK = {work!r}
_run_managed = RunnableLoadJob.run_managed


def run_managed(self, *args, **kwargs):
    # test instrumentation: count the committed jobs of "items"; after {jobs_before_kill} of them, wait (at most
    # 240 s) until the test has killed this worker and says so
    if os.path.basename(self._file_path).split(".")[0] != "items":
        return _run_managed(self, *args, **kwargs)
    marks = WORK + "/committed_jobs"
    done = len(open(marks).read()) if os.path.exists(marks) else 0
    deadline = time.monotonic() + 240
    while done >= {jobs_before_kill} and not os.path.exists(WORK + "/released") and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.2)
    result = _run_managed(self, *args, **kwargs)
    if self._state == "completed":
        with open(marks, "a") as handle:
            handle.write("j")
    return result


RunnableLoadJob.run_managed = run_managed


@dlt.resource(name="items", write_disposition="append")
def items():
    with open(WORK + "/extractions", "a") as handle:
        handle.write(os.environ.get("ADP_WORKER_HOSTNAME", "?") + "\\n")
    yield [{{"id": n, "value": "v%d" % n}} for n in range({rows})]


with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    DltRunOperator(
        task_id="load",
        source=items,
        pipeline_name={dag_id!r},
        dataset_name="celery_kill",
        retries={retries},
        retry_delay=_dt.timedelta(seconds=2),
    )
"""


@dataclass
class Batch:
    cluster: CeleryAirflowCluster
    work: Path
    runs: dict[str, str]  # dag_id -> run id
    states: dict[str, str]  # dag_id -> final run state
    victim: str  # the worker killed under the kill DAG's first try
    killed_groups: set[int]
    kill_seconds: float  # from the kill to the retry's start
    last_work: Path  # the no-retries DAG's instrumentation folder
    last_runs: tuple[str, str]  # its killed run 1 and the run 2 that finishes it
    survivor: str  # the worker killed under run 1 of the no-retries DAG

    def extractions(self, work: Path | None = None) -> list[str]:
        path = (work or self.work) / "extractions"
        return path.read_text().split() if path.exists() else []


def _wait_for(condition, timeout: float, what: str, cluster: CeleryAirflowCluster):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}\n{cluster.diagnostics()}"
            )
        time.sleep(0.5)
    return result


@pytest.fixture(scope="module")
def batch(celery_cluster: CeleryAirflowCluster, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    cluster = celery_cluster
    work = tmp_path_factory.mktemp("celery-kill")
    work.chmod(0o777)
    cluster.add_dag_file(
        SLOW_DAG.format(
            delay=5,
            resources=ISOLATED_RESOURCES,
            dag_id=ISOLATED_DAG,
            pipeline=ISOLATED_PIPELINE,
            decompose="parallel-isolated",
        ),
        ISOLATED_DAG,
    )
    for dag_id in SHARED_DAGS:
        code = SLOW_DAG.format(
            delay=1,
            resources=SHARED_RESOURCES,
            dag_id=dag_id,
            pipeline=SHARED_PIPELINE,
            decompose="independent",
        )
        cluster.add_dag_file(code, dag_id)
    last_work = tmp_path_factory.mktemp("celery-last")
    last_work.chmod(0o777)
    for dag_id, folder, retries in ((KILL_DAG, work, 1), (LAST_DAG, last_work, 0)):
        code = KILL_DAG_CODE.format(
            rows_per_job=ROWS_PER_JOB,
            work=str(folder),
            jobs_before_kill=JOBS_BEFORE_KILL,
            rows=KILL_ROWS,
            dag_id=dag_id,
            retries=retries,
        )
        cluster.add_dag_file(code, dag_id)
    cluster.add_dag_file(parallel_dag(PARALLEL_DAG_ID), PARALLEL_DAG_ID)
    for dag_id in (ISOLATED_DAG, *SHARED_DAGS, KILL_DAG, LAST_DAG, PARALLEL_DAG_ID):
        cluster.wait_for_dag(dag_id, timeout=180)
    cluster.sync_pools()

    # the kill task holds one of the 4 worker slots throughout; the shared DAGs start once the isolated
    # components run, so those 3 fill the other 3 slots: at most 2 per worker, both workers busy at once
    runs = {dag_id: cluster.trigger(dag_id) for dag_id in (KILL_DAG, ISOLATED_DAG)}
    _wait_for(
        lambda: (
            all(ti.start_date for ti in cluster.task_instances(ISOLATED_DAG, runs[ISOLATED_DAG]))
            and len(cluster.task_instances(ISOLATED_DAG, runs[ISOLATED_DAG])) == len(ISOLATED_RESOURCES)
        ),
        240,
        f"every task of {ISOLATED_DAG} to start",
        cluster,
    )
    runs.update({dag_id: cluster.trigger(dag_id) for dag_id in SHARED_DAGS})
    states = {
        dag_id: cluster.wait_for_run(dag_id, runs[dag_id], timeout=300)
        for dag_id in runs
        if dag_id != KILL_DAG
    }

    # the kill DAG's first try has committed some jobs and waits; kill the worker it runs on
    marks = work / "committed_jobs"
    _wait_for(
        lambda: marks.exists() and len(marks.read_text()) >= JOBS_BEFORE_KILL,
        180,
        f"{JOBS_BEFORE_KILL} committed load jobs of {KILL_DAG}",
        cluster,
    )
    first_try = cluster.task_tries(KILL_DAG, runs[KILL_DAG], "load")[-1]
    assert first_try.try_number == 1 and first_try.state == "running", first_try
    victim = str(first_try.hostname)
    killed_groups = cluster.kill_worker(victim)
    killed_at = time.monotonic()
    (work / "released").write_text("")

    def retry_started() -> bool:
        tries = cluster.task_tries(KILL_DAG, runs[KILL_DAG], "load")
        return tries[-1].try_number >= 2 and tries[-1].start_date is not None

    _wait_for(retry_started, 180, f"the retry of {KILL_DAG}", cluster)
    kill_seconds = time.monotonic() - killed_at
    states[KILL_DAG] = cluster.wait_for_run(KILL_DAG, runs[KILL_DAG], timeout=240)
    survivor, last_runs = _kill_the_last_run_then_run_again(cluster, last_work, victim)
    # after the kills (a killed worker would take it along): on the worker that came back
    runs[PARALLEL_DAG_ID] = cluster.trigger(PARALLEL_DAG_ID)
    states[PARALLEL_DAG_ID] = cluster.wait_for_run(PARALLEL_DAG_ID, runs[PARALLEL_DAG_ID], timeout=300)
    return Batch(
        cluster, work, runs, states, victim, killed_groups, kill_seconds, last_work, last_runs, survivor
    )


def _kill_the_last_run_then_run_again(
    cluster: CeleryAirflowCluster, work: Path, dead_worker: str
) -> tuple[str, tuple[str, str]]:
    """Run 1 of the no-retries DAG dies with its worker; the dead first worker comes back; run 2 runs."""
    first = cluster.trigger(LAST_DAG)
    marks = work / "committed_jobs"
    _wait_for(
        lambda: marks.exists() and len(marks.read_text()) >= JOBS_BEFORE_KILL,
        180,
        f"{JOBS_BEFORE_KILL} committed load jobs of {LAST_DAG}",
        cluster,
    )
    survivor = str(cluster.task_tries(LAST_DAG, first, "load")[-1].hostname)
    cluster.kill_worker(survivor)
    (work / "released").write_text("")
    assert cluster.wait_for_run(LAST_DAG, first, timeout=180) == "failed"
    cluster.restart_worker(dead_worker)
    second = cluster.trigger(LAST_DAG)
    cluster.wait_for_run(LAST_DAG, second, timeout=240)
    return survivor, (first, second)


def _span(tis: list[TaskInstanceRow]) -> str:
    def t(value: datetime | None) -> str:
        return value.strftime("%H:%M:%S.%f")[:-3] if value else "-"

    return "\n".join(
        f"  {ti.dag_id}/{ti.task_id} try {ti.try_number} on {ti.hostname}: {t(ti.start_date)} -> {t(ti.end_date)}"
        f" [{ti.state}]"
        for ti in tis
    )


def test_every_run_succeeds(batch: Batch) -> None:
    assert batch.states == dict.fromkeys(batch.runs, "success"), batch.states


def test_parallel_isolated_components_run_on_both_workers_at_once(batch: Batch) -> None:
    tis = batch.cluster.task_instances(ISOLATED_DAG)
    assert len(tis) == len(ISOLATED_RESOURCES)
    assert {ti.state for ti in tis} == {"success"}, _span(tis)
    assert {ti.hostname for ti in tis} == set(batch.cluster.worker_names()), _span(tis)
    across = [(a, b) for a in tis for b in tis if a.hostname < b.hostname and a.overlaps(b)]  # type: ignore[operator]
    assert across, f"no two parallel-isolated tasks ran at the same time on different workers:\n{_span(tis)}"
    path = batch.cluster.home / "dlt" / "duckdb"
    for ti in tis:
        pipeline = f"{ISOLATED_PIPELINE}__{ti.task_id.split('.')[-1]}"
        counts = duckdb_counts(pipeline, "celery_test", path=path / f"{pipeline}.duckdb")
        assert counts == {ti.task_id.split(".")[-1]: 3}


def test_one_pipeline_never_runs_twice_at_once_across_workers(batch: Batch) -> None:
    tis = [ti for dag_id in SHARED_DAGS for ti in batch.cluster.task_instances(dag_id)]
    assert len(tis) == len(SHARED_DAGS) * len(SHARED_RESOURCES)
    assert {ti.pool for ti in tis} == {SHARED_POOL}
    assert {ti.state for ti in tis} == {"success"}, _span(tis)
    overlapping = [(a, b) for i, a in enumerate(tis) for b in tis[i + 1 :] if a.overlaps(b)]
    assert overlapping == [], f"tasks of pool {SHARED_POOL} overlapped:\n{_span(tis)}"
    path = batch.cluster.home / "dlt" / "duckdb" / f"{SHARED_PIPELINE}.duckdb"
    counts = duckdb_counts(SHARED_PIPELINE, "celery_test", path=path)
    assert counts == {name: 3 * len(SHARED_DAGS) for name in SHARED_RESOURCES}


def test_killed_worker_task_is_retried_on_the_other_worker(batch: Batch) -> None:
    tries = batch.cluster.task_tries(KILL_DAG, batch.runs[KILL_DAG], "load")
    assert [t.try_number for t in tries] == [1, 2], _span(tries)
    first, retry = tries
    assert first.hostname == batch.victim
    assert first.state == "failed", _span(tries)  # failed by the scheduler: no heartbeat
    assert retry.state == "success", _span(tries)
    (survivor,) = set(batch.cluster.worker_names()) - {batch.victim}
    assert retry.hostname == survivor, _span(tries)
    assert batch.kill_seconds < 90, (
        f"the dead task was noticed and retried only after {batch.kill_seconds:.0f} s"
    )
    assert len(batch.killed_groups) >= 2, "the worker's group and its task process's own group were killed"
    path = batch.cluster.home / "dlt" / "duckdb" / f"{KILL_DAG}.duckdb"
    counts = duckdb_counts(KILL_DAG, "celery_kill", path=path)
    assert counts.get("items", 0) >= KILL_ROWS, counts  # every row arrived


# Pending packages belong to the pipeline and live in the shared [dlt] package_store: the retry on the other
# worker finishes the killed try's package instead of extracting again (without the store it extracted on both
# workers and loaded 260 rows of 200: the 3 jobs of 20 rows committed before the kill, twice).
def test_retry_on_the_other_worker_resumes_the_pending_package(batch: Batch) -> None:
    path = batch.cluster.home / "dlt" / "duckdb" / f"{KILL_DAG}.duckdb"
    counts = duckdb_counts(KILL_DAG, "celery_kill", path=path)
    # extracted once (by the killed try), and every row loaded exactly once
    assert (batch.extractions(), counts) == ([batch.victim], {"items": KILL_ROWS})


def test_a_killed_run_with_no_retries_left_is_finished_by_the_next_run(batch: Batch) -> None:
    first, second = batch.last_runs
    cluster = batch.cluster
    assert cluster.run_state(LAST_DAG, first) == "failed"
    assert cluster.run_state(LAST_DAG, second) == "success"
    (run_2,) = cluster.task_tries(LAST_DAG, second, "load")
    assert run_2.hostname == batch.victim != batch.survivor, _span([run_2])
    path = cluster.home / "dlt" / "duckdb" / f"{LAST_DAG}.duckdb"
    counts = duckdb_counts(LAST_DAG, "celery_kill", path=path)
    # run 1 extracted once (on the worker that died), run 2 once for its own rows; every row loaded once
    assert (batch.extractions(batch.last_work), counts) == (
        [batch.survivor, batch.victim],
        {"items": 2 * KILL_ROWS},
    )


def test_dlts_parallelism_runs_inside_a_prefork_pool_task(batch: Batch) -> None:
    """NORMALIZE__WORKERS=2, EXTRACT__WORKERS=2 over parallelized resources, LOAD__WORKERS=2 in a task process
    forked from a Celery prefork pool process (daemonic): dlt's worker processes start and do the work."""
    cluster = batch.cluster
    (ti,) = cluster.task_tries(PARALLEL_DAG_ID, batch.runs[PARALLEL_DAG_ID], "load")
    log = cluster.task_log(PARALLEL_DAG_ID, batch.runs[PARALLEL_DAG_ID], "load", ti.try_number)
    assert ti.state == "success", log[-6000:]
    assert "carries the multiprocessing identity of its worker's pool process (billiard." in log
    duckdb_path = cluster.home / "dlt" / "duckdb" / f"{PARALLEL_DAG_ID}.duckdb"
    assert duckdb_counts(PARALLEL_DAG_ID, "par", path=duckdb_path) == EXPECTED_ROWS
    check_parallel_run(log, extracted_by(duckdb_path))
