"""``decompose="mapped"``: two tasks at parse time, one mapped task instance per component at run time.

``<group>.discover`` finds the components when it runs (``runtime/discover.py``, through
:func:`name_mapped_components`); ``<group>.load`` is a ``DltMappedRunOperator`` expanded over them, one map
index per component, each named after the component's first resource (``map_index_template``). At parse time
the factory is never called and dlt is not imported for an import string.

State safety: each component loads into its own pipeline ``<pipeline_name>__<component>``; within a run the
components are disjoint and uniquely named; across runs the DAG must have ``max_active_runs=1`` (checked
here); the pool ``dlt_<pipeline_name>__mapped`` with ``max_parallel`` slots (``airflow-dlt pools sync``)
bounds how many components load at once.
"""
# No ``from __future__ import annotations``: MappedComponent is defined on every DAG parse (see plan.py).

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from airflow_dlt_provider.authoring.arguments import check_refresh_for_group
from airflow_dlt_provider.authoring.decompose.base import DecomposeStrategy, GroupArguments, PlanContext
from airflow_dlt_provider.authoring.names import TaskIdAllocator
from airflow_dlt_provider.authoring.plan import Component, Plan, PlannedTask
from airflow_dlt_provider.authoring.sources import check_object_resource_names, check_source_arguments
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.pools.names import resolve_mapped_pool

__all__ = [
    "DEFAULT_MAX_PARALLEL",
    "DISCOVER_TASK_ID",
    "LOAD_TASK_ID",
    "STRATEGY",
    "MappedComponent",
    "MappedStrategy",
    "name_mapped_components",
]

DISCOVER_TASK_ID = "discover"
LOAD_TASK_ID = "load"
DEFAULT_MAX_PARALLEL = 4
"""Components a mapped group loads at once by default (``max_active_tis_per_dagrun`` and the pool's slots)."""


class MappedComponent(NamedTuple):
    """One map index: a component found at run time and its own pipeline (the XCom the discover task returns)."""

    name: str
    """The component's first resource as a safe, unique id; names the map index and the pipeline."""
    resources: tuple[str, ...]
    pipeline_name: str
    """``<pipeline_name>__<name>``: each component has its own pipeline, as with ``parallel-isolated``."""

    def as_xcom(self) -> dict[str, Any]:
        return {"name": self.name, "resources": list(self.resources), "pipeline_name": self.pipeline_name}


def name_mapped_components(components: Sequence[Component], pipeline_name: str) -> list[MappedComponent]:
    """Name each component after its first resource (unique, deterministic) and give it its own pipeline.

    Components are disjoint (a resource belongs to one), and the names are unique, so no two map indexes of
    a run share a pipeline. Linear in the number of resources.
    """
    allocator = TaskIdAllocator()
    named = []
    for component in components:
        name, own_pipeline = allocator.allocate_own_pipeline(component.first, pipeline_name)
        named.append(MappedComponent(name, component.resources, own_pipeline))
    return named


class MappedStrategy(DecomposeStrategy):
    """``discover`` -> ``load`` (mapped); the components behind ``load`` are found at run time."""

    mode = "mapped"
    reads_graph = False
    calls_factory = False
    guards_state_without_pool = True  # unique components per run and one active run guard each pipeline

    def check(self, args: GroupArguments) -> None:
        if args.parse_cache is not None:  # it would hold nothing: refused, not ignored
            raise InvalidArgumentError(
                f"parse_cache={args.parse_cache!r} does not apply to decompose='mapped': the factory is not "
                "called at parse time (the discover task finds the components when it runs); leave parse_cache out"
            )
        max_parallel(args)
        _check_one_active_run(args)
        if "max_active_tis_per_dagrun" in args.per_task_arguments:
            raise InvalidArgumentError(
                "default_args may not set max_active_tis_per_dagrun with decompose='mapped'; pass "
                "max_parallel=N to DltTaskGroup (it sets the mapped task's max_active_tis_per_dagrun and the "
                "slots airflow-dlt pools sync gives its pool)"
            )
        run_arguments = args.run_arguments
        check_source_arguments(args.spec, run_arguments["source_kwargs"], run_arguments["source_conn_ids"])
        check_object_resource_names(args.spec, args.resource_names)
        # before the group joins the DAG; the plan always has the two tasks
        check_refresh_for_group(run_arguments["run_kwargs"], 2, self.mode)

    def plan_graph(self, graph: Any, context: PlanContext) -> Plan:
        names = context.resource_names
        resources = tuple(names) if names is not None else None
        pipeline_name = context.pipeline_name
        tasks = (
            PlannedTask(DISCOVER_TASK_ID, resources, pipeline_name, None),
            PlannedTask(
                LOAD_TASK_ID, resources, pipeline_name, resolve_mapped_pool(context.pool, pipeline_name), True
            ),
        )
        return Plan(self.mode, context.source_name, pipeline_name, tasks, ((DISCOVER_TASK_ID, LOAD_TASK_ID),))

    def build(self, group: Any, plan: Plan, args: GroupArguments, graph: Any) -> dict[str, Any]:
        """``discover`` and the mapped ``load``; the group keeps both (``discover_task``, ``load_task``)."""
        group.max_parallel = max_parallel(args)
        group.discover_task = _discover_task(group, plan, args)
        group.load_task = _load_task(group, plan, args, group.discover_task)
        return dict.fromkeys(args.resource_names or (), group.load_task)


def max_parallel(args: GroupArguments) -> int:
    """``max_parallel`` of a mapped group, default :data:`DEFAULT_MAX_PARALLEL`."""
    if args.max_parallel is None:
        return DEFAULT_MAX_PARALLEL
    value = args.max_parallel
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(
            f"max_parallel={value!r} is not accepted; expected a positive int: how many components of "
            "a run load at once (the pool dlt_<pipeline_name>__mapped gets as many slots)"
        )
    return value


def _check_one_active_run(args: GroupArguments) -> None:
    """The DAG must allow one active run: map indexes cannot have a pool each."""
    from airflow_dlt_provider import _compat

    group_id = args.group_id
    dag = _compat.current_dag(args.task_group_kwargs.get("dag"))
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


def _discover_task(group: Any, plan: Plan, args: GroupArguments) -> Any:
    from airflow_dlt_provider.operators.mapped import DltDiscoverOperator

    planned = plan.tasks[0]
    source_arguments = {
        key: args.run_arguments[key] for key in ("source", "source_kwargs", "source_conn_ids")
    }
    return DltDiscoverOperator(
        task_id=planned.task_id,
        pipeline_name=plan.pipeline_name,
        resources=list(planned.resources) if planned.resources is not None else None,
        **source_arguments,
        **_common(group, args),
    )


def _load_task(group: Any, plan: Plan, args: GroupArguments, discover: Any) -> Any:
    """``DltMappedRunOperator`` expanded over what ``discover`` returns, in the mapped pool."""
    from airflow_dlt_provider.operators.mapped import MAP_INDEX_TEMPLATE, DltMappedRunOperator, group_alias

    planned = plan.tasks[1]
    load_kwargs: dict[str, Any] = {"map_index_template": MAP_INDEX_TEMPLATE, **_common(group, args)}
    load_kwargs["max_active_tis_per_dagrun"] = group.max_parallel
    if args.run_arguments.get("emit_assets", True):
        load_kwargs["outlets"] = [*load_kwargs.get("outlets", []), group_alias(plan.pipeline_name)]
    if planned.pool is not None:
        load_kwargs["pool"] = planned.pool
    # partial() keeps only the default_args BaseOperator knows: the operator's own one is passed explicitly
    defaults = {**(getattr(group.dag, "default_args", None) or {}), **args.per_task_arguments}
    if "worker_resources" in defaults:
        load_kwargs.setdefault("worker_resources", defaults["worker_resources"])
    partial = DltMappedRunOperator.partial(
        task_id=planned.task_id, group_pipeline_name=plan.pipeline_name, **args.run_arguments, **load_kwargs
    )
    return partial.expand(component=discover.output)


def _common(group: Any, args: GroupArguments) -> Mapping[str, Any]:
    return {"task_group": group, "dag": group.dag, **args.task_kwargs}


STRATEGY = MappedStrategy()
