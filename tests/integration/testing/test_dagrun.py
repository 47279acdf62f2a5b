"""``testing/dagrun.py``: a ``dag.test()`` run of a DAG file, and what the metadata DB recorded of it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS
from airflow_dlt_provider.testing.dagrun import (
    dag_run_task_states,
    dag_run_xcom,
    load_dag,
    register_dag_assets,
    run_dag,
)

DAG_FILE = """
import pendulum
{dag_import}

with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):

    @task
    def produce():
        return {{"rows": {{"t": 3}}}}

    @task
    def nothing():
        pass

    produce() >> nothing()
"""


def _write_dag(folder: Path, dag_id: str) -> Path:
    dag_import = (
        "from airflow.sdk import DAG, task"
        if AIRFLOW_V_3_0_PLUS
        else "from airflow import DAG\nfrom airflow.decorators import task"
    )
    path = folder / f"{dag_id}.py"
    path.write_text(textwrap.dedent(DAG_FILE.format(dag_import=dag_import, dag_id=dag_id)))
    return path


def test_task_states_and_xcom_of_a_finished_run(dags_folder: Path) -> None:
    dag = load_dag(_write_dag(dags_folder, "dagrun_states"), "dagrun_states")
    result = run_dag(dag)
    assert result.state == "success"
    states = dag_run_task_states(dag.dag_id, result.run_id)
    assert states == {"produce": "success", "nothing": "success"}, states
    assert dag_run_xcom(dag.dag_id, result.run_id, "produce") == {"rows": {"t": 3}}
    with pytest.raises(KeyError, match="nothing"):
        dag_run_xcom(dag.dag_id, result.run_id, "nothing")
    with pytest.raises(KeyError):
        dag_run_task_states(dag.dag_id, "no_such_run")


def test_register_dag_assets_accepts_a_dag_on_every_airflow(dags_folder: Path) -> None:
    """Airflow 2: ``DAG.sync_to_db`` (``dag.test()`` does not register datasets); Airflow 3: nothing to do."""
    dag = load_dag(_write_dag(dags_folder, "dagrun_assets"), "dagrun_assets")
    if not AIRFLOW_V_3_0_PLUS:
        assert callable(dag.sync_to_db)
    register_dag_assets(dag)
