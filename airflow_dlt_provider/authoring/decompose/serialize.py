"""``decompose="serialize"`` (the default): one task per component, chained in the order the source declares them."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_dlt_provider.authoring.decompose.base import ComponentStrategy

__all__ = ["STRATEGY", "SerializeStrategy"]


class SerializeStrategy(ComponentStrategy):
    """Each component's task waits for the one before it; all share the pipeline and its one-slot pool."""

    mode = "serialize"

    def edges(self, task_ids: Sequence[str]) -> tuple[tuple[str, str], ...]:
        return tuple(zip(task_ids, task_ids[1:], strict=False))


STRATEGY = SerializeStrategy()
