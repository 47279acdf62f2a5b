"""What a decompose strategy is, and the one-operator-per-component building every mode but ``mapped`` shares.

A strategy is given the group's checked arguments and the source graph (``None`` when it is unknown at parse
time); it checks what only its mode needs, plans the tasks (ids, resources, pipelines, pools, edges: pure
data, no Airflow) and builds the operators. Importing a strategy imports no Airflow: the operators are
imported when it builds.
"""
# No ``from __future__ import annotations``: these NamedTuples are defined on every DAG parse (see plan.py).

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from airflow_dlt_provider.authoring.names import TaskIdAllocator
from airflow_dlt_provider.authoring.plan import (
    Component,
    Plan,
    PlannedTask,
    components_from_names,
    components_from_source,
    flatten_resource_names,
)
from airflow_dlt_provider.authoring.sources import SourceSpec
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.pools.names import AUTO_POOL, resolve_pool

__all__ = ["ComponentStrategy", "DecomposeStrategy", "GroupArguments", "PlanContext"]


class PlanContext(NamedTuple):
    """What a plan is named after, besides the components."""

    pipeline_name: str
    source_name: str
    """The task id of ``decompose="none"``."""
    pool: Any = AUTO_POOL
    """The ``pool`` argument: ``AUTO_POOL``, ``None`` or a pool name."""
    group_prefix: str = ""
    """``"<group_id>."`` as Airflow will prefix the ids (counts against the 250 characters)."""
    resources: Sequence[str | Sequence[str]] | None = None
    """The resources the user named (a nested list groups resources that run in one task)."""

    @property
    def resource_names(self) -> list[str] | None:
        return flatten_resource_names(self.resources) if self.resources is not None else None


class GroupArguments(NamedTuple):
    """A ``DltTaskGroup``'s arguments after the checks every mode shares."""

    group_id: str
    pipeline_name: str
    spec: SourceSpec
    resources: list[str | Sequence[str]] | None
    pool: Any
    parse_cache: Any
    max_parallel: Any
    run_arguments: Mapping[str, Any]
    """The ``DltRunOperator`` arguments every task shares (``source``, ``source_kwargs``, ``destination``, ...)."""
    task_kwargs: Mapping[str, Any]
    """Passed to every task besides the group's ``default_args``: the deprecated ``operator_kwargs``."""
    task_group_kwargs: Mapping[str, Any]

    @property
    def resource_names(self) -> list[str] | None:
        return flatten_resource_names(self.resources) if self.resources is not None else None

    @property
    def per_task_arguments(self) -> dict[str, Any]:
        return {**(self.task_group_kwargs.get("default_args") or {}), **self.task_kwargs}

    def plan_context(self, source_name: str, group_prefix: str) -> PlanContext:
        return PlanContext(self.pipeline_name, source_name, self.pool, group_prefix, self.resources)


class DecomposeStrategy:
    """One ``decompose`` mode: its checks, its plan and its operators. ``DltTaskGroup`` picks one by mode."""

    mode: ClassVar[str]
    reads_graph: ClassVar[bool] = True
    """``False``: the components are found at run time, so no graph is read (nor a factory called) at parse time."""
    calls_factory: ClassVar[bool] = True
    """Whether a factory is called at parse time, when ``resources`` is not given, to find the components."""
    guards_state_without_pool: ClassVar[bool] = False
    """Whether ``pool=None`` still keeps two tasks off one pipeline (then no ``UnprotectedPipelineWarning``)."""

    def check(self, args: GroupArguments) -> None:
        """What only this mode needs, checked before the graph is read and the group joins the DAG."""

    def plan(self, args: GroupArguments, graph: Any, group_prefix: str) -> Plan:
        """The plan of the group: ``graph`` is the source (or its ``SourceGraph``), ``None`` when unknown."""
        source_name = str(graph.name) if graph is not None else args.spec.source_name or args.pipeline_name
        return self.plan_graph(graph, args.plan_context(source_name, group_prefix))

    def plan_graph(self, graph: Any, context: PlanContext) -> Plan:
        """Pure: the plan for ``graph`` (``None``: go by the names in ``context.resources``)."""
        raise NotImplementedError

    def build(self, group: Any, plan: Plan, args: GroupArguments, graph: Any) -> dict[str, Any]:
        """Create the plan's operators in ``group``; returns ``tasks_by_resource``."""
        raise NotImplementedError


class ComponentStrategy(DecomposeStrategy):
    """One ``DltRunOperator`` per planned task, wired by the plan's edges."""

    def check(self, args: GroupArguments) -> None:
        if args.max_parallel is not None:
            raise InvalidArgumentError(
                f"max_parallel={args.max_parallel!r} applies only to decompose='mapped' (got "
                f"decompose={self.mode!r}); other modes build one task per component and their pools decide "
                "what runs at once"
            )

    def plan_graph(self, graph: Any, context: PlanContext) -> Plan:
        if graph is not None:
            return self.plan_components(components_from_source(graph, context.resource_names), context)
        if context.resources is None:
            raise InvalidArgumentError(
                f"decompose={self.mode!r} needs the source graph: pass a source object or resources=[...]"
            )
        return self.plan_components(components_from_names(context.resources), context)

    def plan_components(self, components: Sequence[Component], context: PlanContext) -> Plan:
        """Pure: one task per component, named after its first resource, and the mode's edges."""
        if not components:
            raise InvalidArgumentError(
                f"source {context.source_name!r} has no selected resources, so decompose={self.mode!r} has "
                "nothing to build"
            )
        allocator = TaskIdAllocator(context.group_prefix)
        tasks = tuple(self.plan_task(allocator, component, context) for component in components)
        edges = self.edges([task.task_id for task in tasks])
        return Plan(self.mode, context.source_name, context.pipeline_name, tasks, edges, tuple(components))

    def plan_task(
        self, allocator: TaskIdAllocator, component: Component, context: PlanContext
    ) -> PlannedTask:
        pool = resolve_pool(context.pool, context.pipeline_name)
        return PlannedTask(
            allocator.allocate(component.first), component.resources, context.pipeline_name, pool
        )

    def edges(self, task_ids: Sequence[str]) -> tuple[tuple[str, str], ...]:
        return ()

    def build(self, group: Any, plan: Plan, args: GroupArguments, graph: Any) -> dict[str, Any]:
        from airflow_dlt_provider.operators.run import DltRunOperator

        tasks: dict[str, Any] = {}
        for planned in plan.tasks:
            tasks[planned.task_id] = DltRunOperator(
                task_id=planned.task_id,
                pipeline_name=planned.pipeline_name,
                resources=list(planned.resources) if planned.resources is not None else None,
                pool=planned.pool,
                task_group=group,
                dag=group.dag,
                **args.run_arguments,
                **args.task_kwargs,
            )
        _wire(tasks, plan.edges)
        return self.tasks_by_resource(plan, tasks, graph)

    def tasks_by_resource(self, plan: Plan, tasks: Mapping[str, Any], graph: Any) -> dict[str, Any]:
        """Each resource a task names -> that task."""
        return {name: tasks[planned.task_id] for planned in plan.tasks for name in planned.resources or ()}


def _wire(tasks: Mapping[str, Any], edges: Sequence[tuple[str, str]]) -> None:
    downstream: dict[str, list[Any]] = {}
    for upstream_id, downstream_id in edges:
        downstream.setdefault(upstream_id, []).append(tasks[downstream_id])
    for upstream_id, targets in downstream.items():
        tasks[upstream_id].set_downstream(targets)
