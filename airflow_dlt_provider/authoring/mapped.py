"""The parse-time shape of ``decompose="mapped"``: two tasks, whatever the size of the source.

``<group>.discover`` finds the components when it runs (``runtime/discover.py``); ``<group>.load`` is a
``DltMappedRunOperator`` expanded over them, one map index per component, each named after the component's
first resource (``map_index_template``). At parse time the factory is never called and dlt is not imported
for an import string.

State safety: each component loads into its own pipeline ``<pipeline_name>__<component>``; within a run the
components are disjoint and uniquely named; across runs the DAG must have ``max_active_runs=1`` (checked
here); the pool ``dlt_<pipeline_name>__mapped`` with ``max_parallel`` slots (``airflow-dlt pools sync``)
bounds how many components load at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_dlt_provider.authoring.plan import Plan, PlannedTask
from airflow_dlt_provider.authoring.sources import SourceSpec, check_resource_names
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.pools.names import _AutoPool, mapped_pool_name

__all__ = ["DEFAULT_MAX_PARALLEL", "DISCOVER_TASK_ID", "LOAD_TASK_ID", "check_mapped", "mapped_plan"]

DISCOVER_TASK_ID = "discover"
LOAD_TASK_ID = "load"
DEFAULT_MAX_PARALLEL = 4
"""Components a mapped group loads at once by default (``max_active_tis_per_dagrun`` and the pool's slots)."""


def check_max_parallel(max_parallel: Any, decompose: str) -> int | None:
    """``max_parallel`` for a mapped group (default :data:`DEFAULT_MAX_PARALLEL`); refused for other modes."""
    if decompose != "mapped":
        if max_parallel is not None:
            raise InvalidArgumentError(
                f"max_parallel={max_parallel!r} applies only to decompose='mapped' (got decompose={decompose!r}); "
                "other modes build one task per component and their pools decide what runs at once"
            )
        return None
    if max_parallel is None:
        return DEFAULT_MAX_PARALLEL
    if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
        raise InvalidArgumentError(
            f"max_parallel={max_parallel!r} is not accepted; expected a positive int: how many components of "
            "a run load at once (the pool dlt_<pipeline_name>__mapped gets as many slots)"
        )
    return max_parallel


def check_no_parse_cache(parse_cache: Any) -> None:
    """A mapped group calls nothing at parse time, so a parse cache would hold nothing: refused, not ignored."""
    if parse_cache is not None:
        raise InvalidArgumentError(
            f"parse_cache={parse_cache!r} does not apply to decompose='mapped': the factory is not called at parse "
            "time (the discover task finds the components when it runs); leave parse_cache out"
        )


def check_mapped(
    *,
    group_id: str,
    dag: Any,
    spec: SourceSpec,
    resource_names: Sequence[str] | None,
    per_task_arguments: Mapping[str, Any],
    factory_arguments: bool = False,
) -> None:
    """What a mapped group needs at parse time: a DAG with ``max_active_runs=1``, no per-task concurrency."""
    if dag is None:
        raise InvalidArgumentError(
            f"DltTaskGroup {group_id!r} with decompose='mapped' must be built inside a DAG (`with DAG(...):` "
            "or dag=...): the DAG must allow one active run (max_active_runs=1), which is checked here"
        )
    max_active_runs = getattr(dag, "max_active_runs", None)
    if max_active_runs != 1:
        raise InvalidArgumentError(
            f"DltTaskGroup {group_id!r} with decompose='mapped' needs max_active_runs=1 on DAG {dag.dag_id!r} "
            f"(it has max_active_runs={max_active_runs!r}): map indexes cannot have a pool each, so the one "
            "active run is what keeps two DAG runs from loading the same component (pipeline "
            "<pipeline_name>__<component>) at once. Pass max_active_runs=1 to the DAG, or use "
            "decompose='parallel-isolated' (a pool per component) for concurrent runs"
        )
    if "max_active_tis_per_dagrun" in per_task_arguments:
        raise InvalidArgumentError(
            "default_args may not set max_active_tis_per_dagrun with decompose='mapped'; pass "
            "max_parallel=N to DltTaskGroup (it sets the mapped task's max_active_tis_per_dagrun and the "
            "slots airflow-dlt pools sync gives its pool)"
        )
    if factory_arguments and not spec.is_factory:
        raise InvalidArgumentError(
            f"source {spec.display_name!r} is already a source object, so source_kwargs/source_conn_ids cannot "
            "be applied; pass the @dlt.source function (or its import string) instead"
        )
    if resource_names is not None and not spec.is_factory:
        target = spec.target
        available = getattr(target, "resources", None)
        check_resource_names(
            resource_names, available if available is not None else {target.name}, spec.display_name
        )


def mapped_pool(pool: str | None | _AutoPool, pipeline_name: str) -> str | None:
    """The load task's pool: ``dlt_<pipeline_name>__mapped`` by default, else as given (``None``: default pool)."""
    if isinstance(pool, _AutoPool):
        return mapped_pool_name(pipeline_name)
    return pool


def mapped_plan(
    *,
    pipeline_name: str,
    source_name: str,
    pool: str | None | _AutoPool,
    resource_names: Sequence[str] | None,
) -> Plan:
    """The two tasks (``discover`` -> ``load``); the components behind ``load`` are found at run time."""
    resources = tuple(resource_names) if resource_names is not None else None
    tasks = (
        PlannedTask(DISCOVER_TASK_ID, resources, pipeline_name, None),
        PlannedTask(LOAD_TASK_ID, resources, pipeline_name, mapped_pool(pool, pipeline_name), isolated=True),
    )
    return Plan("mapped", source_name, pipeline_name, tasks, ((DISCOVER_TASK_ID, LOAD_TASK_ID),))


def build_mapped_tasks(
    group: Any,
    plan: Plan,
    *,
    max_parallel: int,
    run_arguments: Mapping[str, Any],
    discover_arguments: Mapping[str, Any],
    task_kwargs: Mapping[str, Any],
) -> tuple[Any, Any]:
    """Create ``discover`` and the mapped ``load`` in ``group``; returns both.

    ``run_arguments`` are the ``DltRunOperator`` arguments shared by every map index (``source_kwargs``,
    ``destination``, ...); ``discover_arguments`` those of the discover task.
    """
    from airflow_dlt_provider.operators.mapped import (
        MAP_INDEX_TEMPLATE,
        DltDiscoverOperator,
        DltMappedRunOperator,
        group_alias,
    )

    discover_planned, load_planned = plan.tasks
    common = {"task_group": group, "dag": group.dag, **task_kwargs}
    discover = DltDiscoverOperator(
        task_id=discover_planned.task_id,
        pipeline_name=plan.pipeline_name,
        resources=list(discover_planned.resources) if discover_planned.resources is not None else None,
        **discover_arguments,
        **common,
    )
    load_kwargs: dict[str, Any] = {"map_index_template": MAP_INDEX_TEMPLATE, **common}
    load_kwargs["max_active_tis_per_dagrun"] = max_parallel
    if run_arguments.get("emit_assets", True):
        load_kwargs["outlets"] = [*load_kwargs.get("outlets", []), group_alias(plan.pipeline_name)]
    if load_planned.pool is not None:
        load_kwargs["pool"] = load_planned.pool
    load = DltMappedRunOperator.partial(
        task_id=load_planned.task_id,
        group_pipeline_name=plan.pipeline_name,
        **run_arguments,
        **load_kwargs,
    ).expand(component=discover.output)
    return discover, load
