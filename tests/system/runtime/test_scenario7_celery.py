"""Issue 22, scenario 7 on the CeleryExecutor: a load into a function destination (``@dlt.destination``,
``batch_size=10``) whose worker dies mid-load; the retry runs on the other worker.

A function destination keeps no ``_dlt_loads`` and its rows carry no load id, so no evidence decides which
batches arrived: dlt records each delivered batch in the package state, the provider copies that record to
the ``file://`` package store as dlt writes it (``runtime/journal.py``), and the retry on the other worker
resumes after the last recorded batch. What it may deliver again is the batch in flight when the worker died
(at most 10 rows), and the retry's log says so.

The fault: on the first try, once 50 of the 200 rows have arrived, the sink holds the batch it just
delivered (before dlt records it) until the test has SIGKILLed that whole worker (worker, pool and task
processes). The scheduler notices the dead task after the cluster's heartbeat timeout and retries it on the
surviving worker.
"""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

import pytest
from support.airflow_cluster import CeleryAirflowCluster, airflow_major

pytestmark = [
    pytest.mark.scheduler,
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(airflow_major() < 3, reason="the CeleryExecutor tests run on Airflow 3 only"),
]

DAG_ID = "adp_celery_scenario7"
ROWS = 200
BATCH = 10
KILL_AFTER = 50

DAG_CODE = """
import datetime as _dt
import json
import os
import time

import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator

# the dead holder's lease in the package store is taken over after 6 s instead of 120 s
os.environ["AIRFLOW__DLT__HOLDER_LEASE_SECONDS"] = "6"
WORK = {work!r}
HOST = os.environ.get("ADP_WORKER_HOSTNAME", "?")


@dlt.destination(batch_size={batch}, loader_file_format="typed-jsonl", name="scenario7_sink")
def sink(items, table):
    with open(WORK + "/delivered", "a") as handle:
        for item in items:
            handle.write(json.dumps({{"id": item["id"], "worker": HOST}}) + "\\n")
        handle.flush()
        os.fsync(handle.fileno())
    with open(WORK + "/delivered") as handle:
        delivered = sum(1 for _ in handle)
    # test instrumentation: on the first try, the batch that reaches {kill_after} rows stays in flight
    # (delivered, not yet recorded by dlt) until the test has killed this worker (at most 240 s)
    if os.path.exists(WORK + "/armed") and delivered >= {kill_after}:
        with open(WORK + "/in_flight.tmp", "w") as handle:
            json.dump({{"worker": HOST, "ids": [item["id"] for item in items]}}, handle)
        os.replace(WORK + "/in_flight.tmp", WORK + "/in_flight")
        deadline = time.monotonic() + 240
        while os.path.exists(WORK + "/armed") and time.monotonic() < deadline:
            time.sleep(0.2)


@dlt.resource(name="items", write_disposition="append")
def items():
    with open(WORK + "/extractions", "a") as handle:
        handle.write(HOST + "\\n")
    yield [{{"id": n, "value": "v%d" % n}} for n in range({rows})]


with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    DltRunOperator(
        task_id="load",
        source=items,
        pipeline_name={dag_id!r},
        destination=sink,
        retries=1,
        retry_delay=_dt.timedelta(seconds=2),
    )
"""

BOUND_LOG = (
    "may hold repeated rows (at most the rows of this job; a function destination resumes after its last "
    "recorded batch)"
)


def _wait_for(condition, timeout: float, what: str, cluster: CeleryAirflowCluster):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}\n{cluster.diagnostics()}"
            )
        time.sleep(0.5)
    return result


def test_a_function_destination_killed_mid_load_repeats_at_most_the_batch_in_flight(
    celery_cluster: CeleryAirflowCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cluster = celery_cluster
    work: Path = tmp_path_factory.mktemp("scenario7")
    work.chmod(0o777)
    (work / "armed").touch()
    cluster.add_dag_file(
        DAG_CODE.format(work=str(work), batch=BATCH, kill_after=KILL_AFTER, rows=ROWS, dag_id=DAG_ID), DAG_ID
    )
    cluster.wait_for_dag(DAG_ID, timeout=180)
    cluster.sync_pools()

    started = time.monotonic()
    run_id = cluster.trigger(DAG_ID)
    in_flight_file = work / "in_flight"
    _wait_for(in_flight_file.exists, 180, f"{KILL_AFTER} rows delivered by the first try", cluster)
    in_flight = json.loads(in_flight_file.read_text())
    (first_try,) = cluster.task_tries(DAG_ID, run_id, "load")
    assert first_try.state == "running" and first_try.hostname == in_flight["worker"], first_try
    victim = str(first_try.hostname)
    cluster.kill_worker(victim)
    killed_at = time.monotonic()
    (work / "armed").unlink()  # the retry delivers freely
    state = cluster.wait_for_run(DAG_ID, run_id, timeout=240)
    finished = time.monotonic()

    tries = cluster.task_tries(DAG_ID, run_id, "load")
    delivered = [json.loads(line) for line in (work / "delivered").read_text().splitlines()]
    counts = collections.Counter(row["id"] for row in delivered)
    repeated = sorted(row_id for row_id, n in counts.items() if n > 1)
    retry_log = cluster.task_log(DAG_ID, run_id, "load", try_number=2)
    print(
        f"\n[scenario 7] trigger -> kill {killed_at - started:.1f} s, kill -> run finished "
        f"{finished - killed_at:.1f} s; delivered {len(delivered)} rows for {ROWS}, repeated ids {repeated}"
    )

    assert state == "success", [(t.try_number, t.hostname, t.state) for t in tries]
    assert [t.try_number for t in tries] == [1, 2]
    (survivor,) = set(cluster.worker_names()) - {victim}
    assert tries[1].hostname == survivor and tries[1].state == "success"
    # nothing lost
    assert sorted(counts) == list(range(ROWS))
    # the source was called once, by the first try; the retry loaded its package from the store
    assert (work / "extractions").read_text().split() == [victim]
    # repeated: at most one batch -- exactly the batch in flight when the worker died
    assert len(in_flight["ids"]) == BATCH
    assert len(delivered) - ROWS <= BATCH
    assert repeated == sorted(in_flight["ids"])
    assert all(counts[row_id] == 2 for row_id in repeated)
    # every row before the batch in flight arrived once, from the killed worker
    first_worker = [row["id"] for row in delivered if row["worker"] == victim]
    assert len(first_worker) == KILL_AFTER and max(first_worker) == max(in_flight["ids"])
    # the retry's log names the table and the bound
    assert "table 'items' " + BOUND_LOG in retry_log, retry_log[-4000:]
    assert cluster.xcom(DAG_ID, run_id, "load")["rows"] == {"items": ROWS}
