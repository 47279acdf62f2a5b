"""A run id chosen by whoever triggers the run (``.``) on a real scheduler: nothing outside the task's folder goes.

Before, the working dir of run ``.`` was ``<work>/<dag>/<task>/.``, i.e. the task's folder itself, and the
clean-up after a success removed the kept folders of every other run of the task.
"""

from __future__ import annotations

import pytest
from support.airflow_cluster import AirflowCluster
from support.dag_runs import duckdb_counts

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(900)]

DAG_ID = "adp_dot_run_id"
PIPELINE = "adp_dot_run_id"

DAG_CODE = f"""
import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator


@dlt.resource(name="rows", write_disposition="append")
def rows():
    yield [{{"id": i}} for i in range(5)]


with DAG({DAG_ID!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    DltRunOperator(task_id="load", source=rows, pipeline_name={PIPELINE!r}, dataset_name="raw",
                   do_xcom_push=False)  # the execution API cannot address a run id of "."
"""


def test_run_id_dot_removes_nothing_but_its_own_folder(airflow_cluster: AirflowCluster) -> None:
    cluster = airflow_cluster
    cluster.add_dag_file(DAG_CODE, DAG_ID)
    cluster.wait_for_dag(DAG_ID, timeout=240)
    cluster.set_pool(f"dlt_{PIPELINE}")
    task_folder = cluster.home / "dlt" / "work" / DAG_ID / "load"
    # what an earlier run kept (a folder the clean-up must not judge: another pipeline's state)
    canary = task_folder / "manual__earlier" / "another_pipeline" / "state.json"
    canary.parent.mkdir(parents=True)
    canary.write_text("{}")

    if cluster.major >= 3:
        cluster.run_cli("dags", "trigger", DAG_ID, "--run-id", ".")
    else:
        cluster.trigger(DAG_ID, run_id=".")
    assert cluster.wait_for_run(DAG_ID, ".", timeout=600) == "success"

    assert canary.read_text() == "{}"
    assert sorted(p.name for p in task_folder.iterdir()) == ["manual__earlier"]
    db = cluster.home / "dlt" / "duckdb" / f"{PIPELINE}.duckdb"
    assert duckdb_counts(PIPELINE, "raw", path=db) == {"rows": 5}
