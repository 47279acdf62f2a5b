"""Run a DAG once with ``dag.test()`` (real metadata DB, tasks in-process) and read what it recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DagTestResult",
    "dag_run_task_states",
    "dag_run_xcom",
    "load_dag",
    "register_dag_assets",
    "run_dag",
]


@dataclass
class DagTestResult:
    """Outcome of one DAG run: its state, the state of every task and their XCom return values."""

    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str] = field(default_factory=dict)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        """The XCom ``key`` task ``task_id`` pushed in this run (``KeyError`` when it pushed none)."""
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
    register_dag_assets(dag)
    dag_run = dag.test(**test_kwargs)
    return DagTestResult(
        dag_id=dag.dag_id,
        run_id=dag_run.run_id,
        state=str(getattr(dag_run.state, "value", dag_run.state)),
        task_states=dag_run_task_states(dag.dag_id, dag_run.run_id),
    )


# ---------------------------------------------------------------- what the metadata DB recorded
# ``dag.test()`` returns an ORM ``DagRun``, but the public task SDK reads task instances and XCom only from
# inside a running task (through the supervisor); a test process has none. So these read the ORM: ``DagRun.find``,
# ``DagRun.get_task_instances`` and ``TaskInstance.xcom_pull`` (the same calls on 2.x and 3.x).


def register_dag_assets(dag: Any) -> None:
    """Write a DAG's datasets and dataset aliases to the metadata DB, as the DAG processor does.

    Airflow 2's ``dag.test()`` skips this, and then records no dataset event for a declared outlet and fails
    on an alias event (``FlushError: None value found in collection DatasetModel.aliases``). Airflow 3's
    ``dag.test()`` does it itself. ``DAG.sync_to_db`` is public on Airflow 2 (gone in 3, not called there).
    """
    from airflow_dlt_provider import _compat

    if not _compat.AIRFLOW_V_3_0_PLUS:
        dag.sync_to_db()


def dag_run_task_states(dag_id: str, run_id: str) -> dict[str, str]:
    """``{task_id: state}`` of a finished DAG run (``KeyError`` when the metadata DB has no such run)."""
    return {
        ti.task_id: str(getattr(ti.state, "value", ti.state))
        for ti in sorted(_task_instances(dag_id, run_id), key=lambda ti: ti.map_index)
    }


_NO_XCOM = object()


def dag_run_xcom(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    """The XCom ``key`` a task of a finished DAG run pushed (``KeyError`` when it pushed none).

    A mapped task answers with its first map index.
    """
    instances = [ti for ti in _task_instances(dag_id, run_id) if ti.task_id == task_id]
    for ti in sorted(instances, key=lambda ti: ti.map_index):
        value = ti.xcom_pull(task_ids=task_id, key=key, map_indexes=ti.map_index, default=_NO_XCOM)
        if value is not _NO_XCOM:
            return value
    raise KeyError(f"no XCom {key!r} for task {task_id!r} in run {run_id!r}")


def _task_instances(dag_id: str, run_id: str) -> list[Any]:
    """The task instances of DAG run ``run_id`` of ``dag_id``."""
    from airflow_dlt_provider import _compat

    runs = _compat.DagRun.find(dag_id=dag_id, run_id=[run_id])
    if not runs:
        raise KeyError(f"no DAG run {run_id!r} of DAG {dag_id!r} in the metadata DB")
    return list(runs[0].get_task_instances())
