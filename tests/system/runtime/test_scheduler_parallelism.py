"""dlt's own parallelism inside a task on the LocalExecutor (a real scheduler): normalize worker processes,
parallelized resources on extract threads, load threads (the DAG and its checks: tests/support/parallel_dag.py). The
CeleryExecutor (prefork pool, daemonic processes) runs the same DAG in test_scheduler_celery.py.
"""

from __future__ import annotations

import pytest
from support.airflow_cluster import AirflowCluster
from support.dag_runs import duckdb_counts
from support.parallel_dag import EXPECTED_ROWS, check_parallel_run, extracted_by, parallel_dag

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(600)]

DAG_ID = "adp_local_parallel"


def test_dlts_parallelism_runs_inside_a_local_executor_task(airflow_cluster: AirflowCluster) -> None:
    cluster = airflow_cluster
    cluster.add_dag_file(parallel_dag(DAG_ID), DAG_ID)
    cluster.wait_for_dag(DAG_ID, timeout=180)
    cluster.set_pool(f"dlt_{DAG_ID}", 1)
    cluster.unpause(DAG_ID)
    run_id = cluster.trigger(DAG_ID)
    state = cluster.wait_for_run(DAG_ID, run_id, timeout=300)
    log = cluster.task_log(DAG_ID, run_id, "load")
    assert state == "success", log[-6000:]
    duckdb_path = cluster.home / "dlt" / "duckdb" / f"{DAG_ID}.duckdb"
    assert duckdb_counts(DAG_ID, "par", path=duckdb_path) == EXPECTED_ROWS
    check_parallel_run(log, extracted_by(duckdb_path))
    # the LocalExecutor's task processes are not daemonic: nothing to clear
    assert "multiprocessing identity of its worker" not in log  # nothing to replace here
