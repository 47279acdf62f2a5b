"""Run a DAG once with ``dag.test()`` (real metadata DB, tasks in-process) and read what it recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class DagTestResult:
    """Outcome of one DAG run: its state, the state of every task and their XCom return values."""

    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str] = field(default_factory=dict)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        """The XCom ``key`` task ``task_id`` pushed in this run (``KeyError`` when it pushed none)."""
        from airflow_dlt_provider._compat import dag_run_xcom

        return dag_run_xcom(self.dag_id, self.run_id, task_id, key)

    def summaries(self) -> dict[str, Any]:
        """XCom return values of every successful task, by task id."""
        return {
            task_id: self.xcom(task_id) for task_id, state in self.task_states.items() if state == "success"
        }


def load_dag(path: str | Path, dag_id: str) -> Any:
    """Parse the DAG file ``path`` the way the DAG processor does and return DAG ``dag_id``.

    On Airflow 3.3 ``dag.test()`` only runs DAGs that live in a file of a DAG bundle (the DAGs folder).
    """
    from airflow_dlt_provider._compat import dag_bag

    bag = dag_bag(str(path))
    if bag.import_errors:
        raise ImportError(f"DAG file {path} failed to import: {bag.import_errors}")
    if dag_id not in bag.dags:
        raise KeyError(f"DAG {dag_id!r} not found in {path}; found: {', '.join(sorted(bag.dags)) or 'none'}")
    return bag.dags[dag_id]


def run_dag(dag: Any, logical_date: datetime | None = None, **test_kwargs: Any) -> DagTestResult:
    """Run ``dag`` once with ``dag.test()`` and return what the metadata DB recorded."""
    if logical_date is not None:
        from airflow_dlt_provider._compat import dag_test_date_argument

        test_kwargs[dag_test_date_argument()] = logical_date
    from airflow_dlt_provider._compat import dag_run_task_states, register_dag_assets

    register_dag_assets(dag)
    dag_run = dag.test(**test_kwargs)
    return DagTestResult(
        dag_id=dag.dag_id,
        run_id=dag_run.run_id,
        state=str(getattr(dag_run.state, "value", dag_run.state)),
        task_states=dag_run_task_states(dag.dag_id, dag_run.run_id),
    )
