"""Pool names of dlt tasks (pure: imports nothing). A pipeline's state is only touched under its one-slot pool."""

from __future__ import annotations

__all__ = [
    "AUTO_POOL",
    "POOL_PREFIX",
    "mapped_pool_name",
    "pool_name_for",
    "resolve_mapped_pool",
    "resolve_pool",
]

POOL_PREFIX = "dlt_"


class _AutoPool:
    """Sentinel: the pool named after the pipeline."""

    def __repr__(self) -> str:
        return "<auto>"


AUTO_POOL = _AutoPool()


def pool_name_for(pipeline_name: str) -> str:
    """``dlt_<pipeline_name>``: the one-slot pool that serialises every task of a pipeline.

    :param pipeline_name: the pipeline (for ``parallel-isolated`` tasks: ``<pipeline_name>__<task>``).
    """
    return f"{POOL_PREFIX}{pipeline_name}"


def resolve_pool(pool: str | None | _AutoPool, pipeline_name: str) -> str | None:
    """The pool a task uses: automatic, none (``None``: Airflow's default pool) or the given name."""
    if isinstance(pool, _AutoPool):
        return pool_name_for(pipeline_name)
    return pool


MAPPED_POOL_SUFFIX = "__mapped"


def mapped_pool_name(pipeline_name: str) -> str:
    """``dlt_<pipeline_name>__mapped``: the pool of a ``decompose="mapped"`` group's load task.

    Its slots (``max_parallel``) bound how many components load at once; each component has its own
    pipeline, and the DAG's ``max_active_runs=1`` keeps two runs off one component (see
    docs/concepts/state-and-pools.md).

    :param pipeline_name: the group's ``pipeline_name``.
    """
    return f"{POOL_PREFIX}{pipeline_name}{MAPPED_POOL_SUFFIX}"


def resolve_mapped_pool(pool: str | None | _AutoPool, pipeline_name: str) -> str | None:
    """The pool of a mapped group's load task: automatic (:func:`mapped_pool_name`), none or the given name."""
    if isinstance(pool, _AutoPool):
        return mapped_pool_name(pipeline_name)
    return pool
