"""``decompose="none"``: one task for the whole source, named after the source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_dlt_provider.authoring.decompose.base import ComponentStrategy, PlanContext
from airflow_dlt_provider.authoring.names import TaskIdAllocator
from airflow_dlt_provider.authoring.plan import Component, Plan, PlannedTask, components_from_names
from airflow_dlt_provider.pools.names import resolve_pool

__all__ = ["STRATEGY", "NoneStrategy"]


class NoneStrategy(ComponentStrategy):
    """One task loads every resource (or the ``resources`` named); the factory is not called at parse time."""

    mode = "none"
    calls_factory = False

    def plan_graph(self, graph: Any, context: PlanContext) -> Plan:
        # the components are not needed for one task: only names given without a graph are kept in the plan
        by_name = graph is None and context.resources is not None
        components = components_from_names(context.resources or ()) if by_name else []
        return self.plan_components(components, context)

    def plan_components(self, components: Sequence[Component], context: PlanContext) -> Plan:
        task_id = TaskIdAllocator(context.group_prefix).allocate(context.source_name or context.pipeline_name)
        names = context.resource_names
        pool = resolve_pool(context.pool, context.pipeline_name)
        task = PlannedTask(task_id, tuple(names) if names is not None else None, context.pipeline_name, pool)
        return Plan(self.mode, context.source_name, context.pipeline_name, (task,), (), tuple(components))

    def tasks_by_resource(self, plan: Plan, tasks: Mapping[str, Any], graph: Any) -> dict[str, Any]:
        named = super().tasks_by_resource(plan, tasks, graph)
        if named or graph is None:
            return named
        # a source object without ``resources``: its one task loads every selected resource
        return dict.fromkeys(graph.resources.selected.keys(), tasks[plan.tasks[0].task_id])


STRATEGY = NoneStrategy()
