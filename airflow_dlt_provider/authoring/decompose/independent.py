"""``decompose="independent"`` (formerly ``"parallel"``): one task per component, the first one first."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_dlt_provider.authoring.decompose.base import ComponentStrategy

__all__ = ["STRATEGY", "IndependentStrategy"]


class IndependentStrategy(ComponentStrategy):
    """The first component creates the dataset and dlt's tables; the others wait only for it, so a failed one
    blocks none of the rest. They share the pipeline, so its one-slot pool runs them one at a time."""

    mode = "independent"

    def edges(self, task_ids: Sequence[str]) -> tuple[tuple[str, str], ...]:
        return tuple((task_ids[0], task_id) for task_id in task_ids[1:])


STRATEGY = IndependentStrategy()
