"""The other running DAG runs of a running task's DAG (what a mapped group's discover task yields to).

Airflow 3 (a task talks to the API server, not the DB): ``RuntimeTaskInstance.get_dr_count`` and
``get_task_states`` (public task-SDK methods), then ``GetDagRun`` through the supervisor channel
(``_compat.supervisor_dag_run``) for a candidate's state and start: no public call lists other DAG runs or
returns one with its start date. Airflow 3.1 has no ``GetDagRun``: the public ``get_dagrun_state`` gives the
state, and the start stays unknown. Airflow 2: the ``DagRun``/``TaskInstance`` ORM (tasks reach the DB).
"""

from __future__ import annotations

from typing import Any

from airflow_dlt_provider import _compat

__all__ = ["other_running_dag_runs"]

_FINISHED_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
_MOST_RUNS_LISTED = 20  # Airflow 3: the runs asked about one by one; enough to name the blocking ones


def other_running_dag_runs(context: Any, task_ids: list[str]) -> list[dict[str, Any]]:
    """The other *running* DAG runs of the running task's DAG in which one of ``task_ids`` is not finished.

    Each: ``run_id``, ``run_type``, ``start_date`` and ``states`` (``{task_id or task_id_<map index>: state}``
    of ``task_ids`` in that run). Backfill runs are DAG runs too.
    """
    if _compat.AIRFLOW_V_3_0_PLUS:
        return _from_the_api_server(context["ti"], task_ids)
    return _from_the_metadata_db(context["ti"], task_ids)  # pragma: no cover - Airflow 2


def _from_the_api_server(ti: Any, task_ids: list[str]) -> list[dict[str, Any]]:
    """Airflow 3: through the task's supervisor."""
    dag_id, own_run_id = ti.dag_id, ti.run_id
    if ti.get_dr_count(dag_id=dag_id, states=["running"]) <= 1:
        return []
    found = []
    for run_id, states in sorted(ti.get_task_states(dag_id=dag_id, task_ids=list(task_ids)).items()):
        texts = {key: _state_text(state) for key, state in states.items()}
        if run_id == own_run_id or not _unfinished(texts):
            continue
        dag_run = _compat.supervisor_dag_run(dag_id, run_id)
        if (
            dag_run is None
        ):  # Airflow 3.1: the run's state only (its start unknown: discover orders by run id)
            if _state_text(ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)) == "running":
                found.append(_other_run(run_id, None, None, texts))
        elif _state_text(dag_run.state) == "running":
            found.append(_other_run(run_id, dag_run.run_type, dag_run.start_date, texts))
        if len(found) >= _MOST_RUNS_LISTED:
            break
    return found


def _from_the_metadata_db(
    ti: Any, task_ids: list[str]
) -> list[dict[str, Any]]:  # pragma: no cover - Airflow 2
    """Airflow 2: the ``DagRun`` and ``TaskInstance`` tables."""
    from sqlalchemy import select

    dag_run, task_instance = _compat.DagRun, _compat.TaskInstance
    dag_id, own_run_id = ti.dag_id, ti.run_id
    with _compat.create_session() as session:
        runs = session.execute(
            select(dag_run.run_id, dag_run.run_type, dag_run.start_date).where(
                dag_run.dag_id == dag_id, dag_run.state == "running", dag_run.run_id != own_run_id
            )
        ).all()
        found = []
        for run_id, run_type, start_date in runs[:200]:
            rows = session.execute(
                select(task_instance.task_id, task_instance.map_index, task_instance.state).where(
                    task_instance.dag_id == dag_id,
                    task_instance.run_id == run_id,
                    task_instance.task_id.in_(list(task_ids)),
                )
            ).all()
            texts = {
                (task_id if map_index < 0 else f"{task_id}_{map_index}"): _state_text(state)
                for task_id, map_index, state in rows
            }
            if _unfinished(texts):
                found.append(_other_run(run_id, run_type, start_date, texts))
    return found


def _other_run(run_id: str, run_type: Any, start_date: Any, states: dict[str, str | None]) -> dict[str, Any]:
    return {"run_id": run_id, "run_type": _state_text(run_type), "start_date": start_date, "states": states}


def _unfinished(states: dict[str, str | None]) -> bool:
    return any(state not in _FINISHED_TI_STATES for state in states.values())


def _state_text(state: Any) -> str | None:
    return None if state is None else str(getattr(state, "value", state))
