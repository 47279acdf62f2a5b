"""Data-aware scheduling on a real scheduler: the example consumer DAG runs on an asset the dlt DAG produced."""

from __future__ import annotations

import time

import pytest
from support.airflow_cluster import AirflowCluster
from support.sample_data import EXAMPLES_DIR, expected_sample_counts

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(1200)]

PRODUCER = "dlt_github_assets_producer"
CONSUMER = "dlt_github_assets_consumer"
PIPELINE = "github_assets"


def _consumer_runs(cluster: AirflowCluster) -> list[dict]:
    rows = cluster.query("SELECT run_id, run_type FROM dag_run WHERE dag_id = %s ORDER BY id", (CONSUMER,))
    return [{"run_id": run_id, "run_type": run_type} for run_id, run_type in rows]


def _wait_for_consumer_run(cluster: AirflowCluster, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _consumer_runs(cluster)
        if runs:
            return runs[0]
        time.sleep(2)
    raise AssertionError(
        f"the scheduler created no run of {CONSUMER} within {timeout} s\n{cluster.diagnostics()}"
    )


def test_consumer_dag_runs_on_the_asset_of_the_dlt_dag(airflow_cluster: AirflowCluster) -> None:
    cluster = airflow_cluster
    cluster.add_dag_file(EXAMPLES_DIR / "github_assets_producer.py")
    cluster.add_dag_file(EXAMPLES_DIR / "github_assets_consumer.py")
    cluster.wait_for_dag(PRODUCER, timeout=240)
    cluster.wait_for_dag(CONSUMER, timeout=240)
    cluster.set_pool(f"dlt_{PIPELINE}")
    assert _consumer_runs(cluster) == []

    producer_run = cluster.trigger(PRODUCER)
    assert cluster.wait_for_run(PRODUCER, producer_run, timeout=600) == "success"

    consumer_run = _wait_for_consumer_run(cluster, timeout=180)
    assert consumer_run["run_type"] in ("asset_triggered", "dataset_triggered")
    assert cluster.wait_for_run(CONSUMER, consumer_run["run_id"], timeout=300) == "success"

    expected = expected_sample_counts({"dlt"})
    report = cluster.xcom(CONSUMER, consumer_run["run_id"], "report_new_users")
    assert report == {"events": 1, "announced_rows": expected["users"], "rows_in_table": expected["users"]}

    events = {e["uri"]: e["extra"] for e in cluster.asset_events(PRODUCER)}
    logical = f"dlt://duckdb.{PIPELINE}/github_raw"
    for table in ("users", "issues", "issues__labels"):
        extra = events[f"{logical}/{table}"]
        assert extra["rows"] == expected[table]
        assert extra["pipeline_name"] == PIPELINE and extra["dataset_name"] == "github_raw"
        assert (
            extra["location"].startswith("duckdb:/") and extra["location"] not in events
        )  # one asset per table
