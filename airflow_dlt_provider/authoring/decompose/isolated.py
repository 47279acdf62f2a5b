"""``decompose="parallel-isolated"``: one task per component, each with its own pipeline and pool."""

from __future__ import annotations

from airflow_dlt_provider.authoring.decompose.base import PlanContext
from airflow_dlt_provider.authoring.decompose.independent import IndependentStrategy
from airflow_dlt_provider.authoring.names import TaskIdAllocator
from airflow_dlt_provider.authoring.plan import Component, PlannedTask
from airflow_dlt_provider.pools.names import resolve_pool

__all__ = ["STRATEGY", "IsolatedStrategy"]


class IsolatedStrategy(IndependentStrategy):
    """The edges of ``independent``; each task loads into ``<pipeline_name>__<task>`` under the pool
    ``dlt_<pipeline_name>__<task>``, so the tasks do run side by side (into the same dataset)."""

    mode = "parallel-isolated"

    def plan_task(
        self, allocator: TaskIdAllocator, component: Component, context: PlanContext
    ) -> PlannedTask:
        task_id, pipeline_name = allocator.allocate_own_pipeline(component.first, context.pipeline_name)
        pool = resolve_pool(context.pool, pipeline_name)
        return PlannedTask(task_id, component.resources, pipeline_name, pool, isolated=True)


STRATEGY = IsolatedStrategy()
