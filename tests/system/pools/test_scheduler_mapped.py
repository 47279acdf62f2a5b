"""``decompose="mapped"`` on a real scheduler: two runs triggered together never load one component at once.

One DAG (``max_active_runs=1``, ``max_parallel=2``) over three slow components; ``airflow-dlt pools sync``
creates the mapped pool with two slots; two runs are triggered back to back. Within a run map indexes run
side by side; across the runs no component (map index name) is ever loaded by two task instances at once,
and every row is loaded once per run.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from support.airflow_cluster import AirflowCluster
from support.dag_runs import duckdb_counts

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(900)]

DAG_ID = "adp_mapped_runs"
PIPELINE = "adp_mapped"
RESOURCES = ("alpha", "beta", "gamma")
ROWS = 4

DAG_CODE = f"""
import time

import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltTaskGroup


@dlt.source(name="slow")
def slow_source(delay: float = 3.0):
    def make(name):
        @dlt.resource(name=name, write_disposition="append")
        def extract():
            time.sleep(delay)
            yield [{{"id": i, "resource": name}} for i in range({ROWS})]

        return extract

    return [make(name) for name in {RESOURCES!r}]


with DAG({DAG_ID!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
         max_active_runs=1):
    DltTaskGroup("load", source=slow_source, pipeline_name={PIPELINE!r}, dataset_name="mapped_test",
                 decompose="mapped", max_parallel=2)
"""


def _spans(cluster: AirflowCluster) -> list[tuple[str, str, str, datetime, datetime]]:
    """``(run_id, component, state, start, end)`` of every map index of the load task."""
    return [
        tuple(row)  # type: ignore[misc]
        for row in cluster.query(
            "SELECT run_id, rendered_map_index, state, start_date, end_date FROM task_instance "
            "WHERE dag_id = %s AND task_id = 'load.load' ORDER BY start_date",
            (DAG_ID,),
        )
    ]


def _overlap(a: tuple, b: tuple) -> bool:
    return bool(a[3] < b[4] and b[3] < a[4])


def test_two_runs_never_load_one_component_at_once(airflow_cluster: AirflowCluster) -> None:
    cluster = airflow_cluster
    cluster.add_dag_file(DAG_CODE, DAG_ID)
    cluster.wait_for_dag(DAG_ID, timeout=240)
    synced = cluster.sync_pools()
    assert cluster.pools().get(f"dlt_{PIPELINE}__mapped") == 2, synced.stdout

    runs = [cluster.trigger(DAG_ID) for _ in range(2)]
    states = {run_id: cluster.wait_for_run(DAG_ID, run_id, timeout=600) for run_id in runs}
    assert set(states.values()) == {"success"}, states

    spans = _spans(cluster)
    assert sorted((run, component) for run, component, *_ in spans) == sorted(
        (run, name) for run in runs for name in RESOURCES
    )
    assert {state for _, _, state, _, _ in spans} == {"success"}
    same_component = [
        (a, b) for i, a in enumerate(spans) for b in spans[i + 1 :] if a[1] == b[1] and _overlap(a, b)
    ]
    assert not same_component, same_component
    # the pool's two slots are used: components of one run load side by side
    within_run = [
        (a, b) for i, a in enumerate(spans) for b in spans[i + 1 :] if a[0] == b[0] and _overlap(a, b)
    ]
    assert within_run, spans
    for name in RESOURCES:
        component_db = cluster.home / "dlt" / "duckdb" / f"{PIPELINE}__{name}.duckdb"
        assert duckdb_counts(f"{PIPELINE}__{name}", "mapped_test", path=component_db) == {name: 2 * ROWS}
