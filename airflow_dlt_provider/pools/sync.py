"""The pools a DAGs folder needs: found from its dlt tasks, created in the metadata DB or exported as JSON."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PoolNeed",
    "SyncResult",
    "create_pool",
    "existing_pools",
    "export_pools",
    "parse_dags_folder",
    "pools_needed",
    "set_pool_slots",
    "sync_pools",
]

# ---------------------------------------------------------------- pools a DAGs folder needs

DEFAULT_POOL_NAME = "default_pool"
"""Airflow's own pool: always exists, never created or exported here."""


@dataclass(frozen=True)
class PoolNeed:
    """A pool that dlt tasks use: its name, the slots it needs and the tasks that use it."""

    name: str
    slots: int
    """The largest ``pool_slots`` of its tasks (1 for every task of a ``DltTaskGroup`` with the auto pool)."""
    tasks: tuple[str, ...]
    """``<dag_id>.<task_id>`` of the tasks that use it."""

    @property
    def description(self) -> str:
        dags = sorted({task.split(".", 1)[0] for task in self.tasks})
        return f"dlt pipeline pool (airflow-dlt-provider); used by DAG(s) {', '.join(dags)}"[:500]


@dataclass(frozen=True)
class SyncResult:
    created: tuple[PoolNeed, ...]
    existing: dict[str, int]
    """``{name: slots}`` of the needed pools that were there already (as they were found)."""
    mismatched: tuple[PoolNeed, ...] = ()
    """Existing pools whose slots are not what their dlt tasks need (``need.slots``)."""
    fixed: bool = False
    """Whether the mismatched pools were set to the slots they need (``--fix``)."""


def pools_needed(dags: Iterable[Any]) -> list[PoolNeed]:
    """The pools of every ``DltRunOperator`` task of ``dags`` (sorted by name; Airflow's default pool left out).

    A mapped one (``decompose="mapped"``) needs ``pool_slots`` times its ``max_active_tis_per_dagrun`` slots,
    so that many map indexes load at once.

    :param dags: DAG objects (e.g. ``DagBag.dags.values()``).
    """
    slots: dict[str, int] = {}
    users: dict[str, list[str]] = {}
    for dag in dags:
        for task in dag.tasks:
            needed = _slots_needed(task)
            if needed is None:
                continue
            pool = getattr(task, "pool", None)
            if not pool or pool == DEFAULT_POOL_NAME:
                continue
            slots[pool] = max(slots.get(pool, 1), needed)
            users.setdefault(pool, []).append(f"{dag.dag_id}.{task.task_id}")
    return [PoolNeed(name, slots[name], tuple(users[name])) for name in sorted(slots)]


def _slots_needed(task: Any) -> int | None:
    """Pool slots a dlt task needs to run as designed; ``None`` for a task that is not a dlt task."""
    from airflow_dlt_provider.operators.run import DltRunOperator

    pool_slots = int(getattr(task, "pool_slots", 1) or 1)
    if isinstance(task, DltRunOperator):
        return pool_slots
    operator_class = getattr(task, "operator_class", None)  # a mapped operator (parsed from its DAG file)
    if isinstance(operator_class, type) and issubclass(operator_class, DltRunOperator):
        return pool_slots * int(getattr(task, "max_active_tis_per_dagrun", None) or 1)
    return None


def parse_dags_folder(dags_folder: str | None = None) -> tuple[list[Any], dict[str, str]]:
    """Parse ``dags_folder`` (default: Airflow's configured DAGs folder): ``(dags, import errors by file)``."""
    from airflow_dlt_provider import _compat

    folder = dags_folder or _compat.conf_get("core", "dags_folder")
    if not folder:
        raise ValueError("no DAGs folder: pass --dags-folder or set [core] dags_folder")
    # like Airflow's DAG processor: modules next to the DAG files are importable
    import sys

    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    bag = _compat.dag_bag(str(folder))
    return list(bag.dags.values()), {str(k): str(v) for k, v in bag.import_errors.items()}


def sync_pools(needs: Iterable[PoolNeed], *, dry_run: bool = False, fix: bool = False) -> SyncResult:
    """Create the missing pools in the configured metadata DB and find the existing ones with other slots.

    A pipeline pool needs exactly the slots its tasks use (one for a ``DltTaskGroup``'s own pool; a mapped
    group's: its ``max_parallel``). More slots let two tasks of one pipeline run at once (they then wait for
    each other's hold on the pipeline, and fail retryably after ``[dlt] holder_wait_seconds``); fewer leave a
    task unscheduled. ``fix=True`` sets them to what they need (their descriptions are kept).
    """
    needs = list(needs)
    existing = existing_pools([need.name for need in needs])
    missing = tuple(need for need in needs if need.name not in existing)
    mismatched = tuple(need for need in needs if need.name in existing and existing[need.name] != need.slots)
    if not dry_run:
        for need in missing:
            create_pool(need.name, need.slots, need.description)
        if fix:
            for need in mismatched:
                set_pool_slots(need.name, need.slots)
    return SyncResult(created=missing, existing=existing, mismatched=mismatched, fixed=fix and not dry_run)


def export_pools(needs: Iterable[PoolNeed]) -> dict[str, dict[str, Any]]:
    """The JSON document ``airflow pools import`` accepts: ``{name: {slots, description, include_deferred}}``."""
    return {
        need.name: {"slots": need.slots, "description": need.description, "include_deferred": False}
        for need in needs
    }


# ---------------------------------------------------------------- pools in the metadata DB
# Pools have no public Python API (only the REST API and the ``airflow pools`` CLI, both too heavy for
# ``airflow-dlt pools sync`` and the pytest plugin, which run beside the metadata DB): the ``Pool`` ORM model.


def existing_pools(names: list[str]) -> dict[str, int]:
    """``{pool name: slots}`` of the pools among ``names`` that exist in the configured metadata DB."""
    from sqlalchemy import select

    from airflow_dlt_provider import _compat

    if not names:
        return {}
    pool = _compat.Pool
    with _compat.create_session() as session:
        rows = session.execute(select(pool.pool, pool.slots).where(pool.pool.in_(names))).all()
    return {str(name): int(slots) for name, slots in rows}


def create_pool(name: str, slots: int, description: str) -> None:
    """Create (or update) a pool in the configured metadata DB.

    ``Pool.create_or_update_pool`` (2.x and 3.x; 3.3.2 added a keyword-only ``team_name``, so every argument is
    passed by name).
    """
    from airflow_dlt_provider import _compat

    with _compat.create_session() as session:
        _compat.Pool.create_or_update_pool(
            name=name, slots=slots, description=description, include_deferred=False, session=session
        )


def set_pool_slots(name: str, slots: int) -> None:
    """Set the slots of the existing pool ``name`` (its description and other settings are kept)."""
    from sqlalchemy import update

    from airflow_dlt_provider import _compat

    pool = _compat.Pool
    with _compat.create_session() as session:
        session.execute(update(pool).where(pool.pool == name).values(slots=slots))
