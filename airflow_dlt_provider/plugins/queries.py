"""What the ``/dlt`` app asks the API server: which DAGs the caller may read, and their dlt task summaries.

Both run inside Airflow 3.1+'s API server, next to the metadata DB and the auth manager, and reach them the way
Airflow's own routes do: through Airflow internals (accessors in ``_compat``), since no public API protects a
plugin's FastAPI app or reads XComs across DAG runs.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_dlt_provider import _compat

__all__ = ["dlt_task_summaries", "readable_dag_ids_dependency"]

SUMMARY_KEYS = (
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "value",
    "run_state",
    "run_after",
    "start_date",
    "end_date",
)
"""The fields of one row of :func:`dlt_task_summaries`."""


def readable_dag_ids_dependency() -> Any:
    """A FastAPI dependency: the ids of the DAGs whose XComs the caller may read, by Airflow's auth manager.

    Everything the ``/dlt`` plugin shows comes from XComs (the load summaries), so a DAG counts only if the
    caller may read the DAG *and* its XComs (``DagAccessEntity.XCOM``), as Airflow's own XCom endpoints require
    (``requires_access_dag("GET", DagAccessEntity.XCOM)``); a user who may see a DAG but not its XComs sees no
    pipeline of it. No valid JWT (``Authorization: Bearer`` or the UI's ``_token`` cookie) -> 401/403, as on
    Airflow's own API.

    Uses Airflow's ``get_user`` dependency and ``get_auth_manager`` (what Airflow's own routes depend on) and
    ``DagModel.get_dag_id_to_team_name_mapping`` (3.x, for multi-team deployments); the resource details are
    the auth manager's public interface.
    """
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from fastapi import Depends

    # a default-value dependency: an Annotated one would be resolved against this module's globals
    def readable_dag_ids(user: Any = Depends(_compat.get_user)) -> set[str]:  # noqa: B008
        manager = _compat.get_auth_manager()
        dag_ids = set(manager.get_authorized_dag_ids(user=user, method="GET"))
        teams = _team_names(dag_ids)
        return {
            dag_id
            for dag_id in dag_ids
            if manager.is_authorized_dag(
                method="GET",
                access_entity=DagAccessEntity.XCOM,
                details=DagDetails(id=dag_id, team_name=teams.get(dag_id)),
                user=user,
            )
        }

    return readable_dag_ids


def _team_names(dag_ids: set[str]) -> dict[str, Any]:
    """``{dag_id: team name}`` on an Airflow with teams (multi-team deployments); ``{}`` before."""
    mapping = getattr(_compat.DagModel, "get_dag_id_to_team_name_mapping", None)
    return dict(mapping(list(dag_ids))) if mapping is not None and dag_ids else {}


def dlt_task_summaries(dag_ids: set[str], limit: int) -> list[dict[str, Any]]:
    """XCom return values of dlt tasks in ``dag_ids``, newest DAG run first, at most ``limit`` rows.

    Each: ``dag_id, run_id, task_id, map_index, value`` (decoded JSON) and the DAG run's ``run_state``,
    ``run_after``, ``start_date``, ``end_date``. dlt tasks are those whose operator class name contains
    ``dlt`` (``DltRunOperator`` and subclasses named alike); callers check the value's shape.

    Reads the ``XComModel``, ``TaskInstance`` and ``DagRun`` tables, as Airflow's own routes do.
    """
    if not dag_ids:
        return []
    with _compat.create_session() as session:
        rows = [
            dict(zip(SUMMARY_KEYS, row, strict=True))
            for row in session.execute(_summaries_query(dag_ids, limit)).all()
        ]
    for row in rows:
        row["value"] = _decoded(row["value"])
        row["run_state"] = None if row["run_state"] is None else _text(row["run_state"])
    return rows


def _summaries_query(dag_ids: set[str], limit: int) -> Any:
    """The ``select`` of :func:`dlt_task_summaries`: columns in :data:`SUMMARY_KEYS` order."""
    from sqlalchemy import and_, select

    xcom, dag_run, task_instance = (
        _compat.XComModel,
        _compat.DagRun,
        _compat.TaskInstance,
    )
    return (
        select(
            xcom.dag_id,
            xcom.run_id,
            xcom.task_id,
            xcom.map_index,
            xcom.value,
            dag_run.state,
            dag_run.run_after,
            dag_run.start_date,
            dag_run.end_date,
        )
        .join(dag_run, dag_run.id == xcom.dag_run_id)
        .join(
            task_instance,
            and_(
                task_instance.dag_id == xcom.dag_id,
                task_instance.run_id == xcom.run_id,
                task_instance.task_id == xcom.task_id,
                task_instance.map_index == xcom.map_index,
            ),
        )
        .where(xcom.key == "return_value", xcom.dag_id.in_(sorted(dag_ids)))
        .where(task_instance.operator.ilike("%dlt%"))
        .order_by(dag_run.id.desc(), xcom.task_id, xcom.map_index)
        .limit(limit)
    )


def _decoded(value: Any) -> Any:
    """An XCom value as stored (JSON text on Airflow 3), decoded; ``None`` when it is no JSON."""
    if not isinstance(value, (str, bytes)):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def _text(state: Any) -> str:
    return str(getattr(state, "value", state))
