"""A DAG that uses all of dlt's own parallelism in one task, and what its task log must show; shared by the
scheduler tests (CeleryExecutor in test_scheduler_celery.py, LocalExecutor in test_scheduler_parallelism.py).

The settings are dlt's own environment variables, set where the task process reads them (the DAG file, which
the task process parses): ``NORMALIZE__WORKERS=2`` (a process pool; ``EXTRACT__DATA_WRITER__FILE_MAX_ITEMS``
makes several extracted files, so both workers get some), ``EXTRACT__WORKERS=2`` over two
``parallelized=True`` resources (threads) and ``LOAD__WORKERS=2`` (threads). ``RUNTIME__LOG_LEVEL=INFO`` makes
dlt log its pools, and the normalize workers log their pid (dlt's log format) when they finish their files.
Each row records the pid of the process and the thread that extracted it.
"""

from __future__ import annotations

import re
from typing import Any

ITEMS_ROWS = 6_000
EVENT_ROWS = 200  # per parallelized resource

PARALLEL_DAG = """
import os
import threading

import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator

os.environ.update({{
    "NORMALIZE__WORKERS": "2",
    "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": "1500",
    "EXTRACT__WORKERS": "2",
    "LOAD__WORKERS": "2",
    "RUNTIME__LOG_LEVEL": "INFO",
}})


def stamp(row):
    return {{**row, "pid": os.getpid(), "thread": threading.current_thread().name}}


@dlt.source(name="par")
def par_source():
    @dlt.resource(name="items", write_disposition="append")
    def items():
        for start in range(0, {items}, 500):
            yield [stamp({{"id": i}}) for i in range(start, start + 500)]

    def parallel(name):
        @dlt.resource(name=name, write_disposition="append", parallelized=True)
        def extract():
            for start in range(0, {events}, 50):
                yield [stamp({{"id": i}}) for i in range(start, start + 50)]

        return extract

    return items, parallel("events_a"), parallel("events_b")


with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    DltRunOperator(task_id="load", source=par_source, pipeline_name={dag_id!r}, dataset_name="par")
"""

EXPECTED_ROWS = {"items": ITEMS_ROWS, "events_a": EVENT_ROWS, "events_b": EVENT_ROWS}
# dlt's log format: `asctime|[LEVEL]|pid|thread id|logger|file|function:line|message`
_WORKER_LINE = re.compile(
    r"\|\[INFO\]\|(\d+)\|\d+\|dlt\|worker\.py\|w_normalize_files:\d+\|Processed all items"
)


def parallel_dag(dag_id: str) -> str:
    return PARALLEL_DAG.format(dag_id=dag_id, items=ITEMS_ROWS, events=EVENT_ROWS)


def normalize_worker_pids(task_log: str) -> set[int]:
    """The pids of dlt's normalize worker processes, from the lines they logged into the task log."""
    return {int(pid) for pid in _WORKER_LINE.findall(task_log)}


def check_parallel_run(task_log: str, extracted_by: list[tuple[str, int, str]]) -> None:
    """What the task log and the loaded rows (``(table, pid, thread)`` per row) must show."""
    assert "Created process pool with 2 workers" in task_log, "no normalize process pool in the log"
    assert "daemonic processes are not allowed to have children" not in task_log
    assert "Created thread pool with 2 workers" in task_log, "no load thread pool with 2 workers in the log"
    task_pids = {pid for _, pid, _ in extracted_by}
    assert len(task_pids) == 1, f"rows extracted by several processes: {task_pids}"
    workers = normalize_worker_pids(task_log)
    assert workers, "no normalize worker process logged its work"
    assert not workers & task_pids, f"normalize ran in the task process {task_pids}, not in workers {workers}"
    threads: dict[str, set[str]] = {}
    for table, _, thread in extracted_by:
        threads.setdefault(table, set()).add(thread)
    assert threads["items"] == {"MainThread"}, threads
    parallel = threads["events_a"] | threads["events_b"]
    assert "MainThread" not in parallel, f"parallelized resources ran in the main thread: {threads}"


def extracted_by(duckdb_path: Any, dataset: str = "par") -> list[tuple[str, int, str]]:
    """``(table, pid, thread)`` of every loaded row."""
    import duckdb

    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        return [
            (table, int(pid), str(thread))
            for table in EXPECTED_ROWS
            for pid, thread in conn.execute(f'SELECT pid, thread FROM "{dataset}"."{table}"').fetchall()
        ]
