"""One strategy per ``decompose`` mode: its checks, its plan (ids, resources, pipelines, pools, edges) and its
operators, in one module each. ``DltTaskGroup`` picks the strategy by mode and holds no per-mode branch.

A mode's module is imported when a group first uses it, so a DAG parse pays only for the modes it uses.
:func:`plan_source` and :func:`build_plan` are the pure planning entries (no Airflow).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_dlt_provider.authoring.decompose.base import ComponentStrategy, DecomposeStrategy, PlanContext
from airflow_dlt_provider.authoring.plan import check_decompose
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.pools.names import AUTO_POOL, _AutoPool

if TYPE_CHECKING:
    from airflow_dlt_provider.authoring.plan import Component, Plan

__all__ = ["STRATEGY_MODULES", "build_plan", "plan_source", "strategy_for"]

STRATEGY_MODULES: dict[str, str] = {
    "none": "none",
    "serialize": "serialize",
    "independent": "independent",
    "parallel-isolated": "isolated",
    "mapped": "mapped",
}
"""The registry: each mode of ``DECOMPOSE_MODES`` -> the module (in this package) whose ``STRATEGY`` it is."""


def strategy_for(decompose: Any) -> DecomposeStrategy:
    """The strategy of ``decompose`` (checked: a deprecated name warns and gives its new mode's strategy)."""
    mode = check_decompose(decompose)
    module = importlib.import_module(f"{__name__}.{STRATEGY_MODULES[mode]}")
    strategy: DecomposeStrategy = module.STRATEGY
    return strategy


def plan_source(
    source: Any,
    *,
    pipeline_name: str,
    decompose: str = "serialize",
    resources: Sequence[str | Sequence[str]] | None = None,
    pool: str | None | _AutoPool = AUTO_POOL,
    group_prefix: str = "",
    source_name: str | None = None,
) -> Plan:
    """Plan for ``source``: a ``DltSource`` or ``SourceGraph`` (graph known) or ``None`` with ``resources``.

    With a source, ``resources`` must be plain names of that source; without one, ``resources`` is required
    (except for ``none`` and ``mapped``) and may hold nested groups (see ``plan.components_from_names``).
    """
    strategy = strategy_for(decompose)
    name = source_name or (str(source.name) if source is not None else pipeline_name)
    return strategy.plan_graph(source, PlanContext(pipeline_name, name, pool, group_prefix, resources))


def build_plan(
    components: Sequence[Component],
    *,
    source_name: str,
    pipeline_name: str,
    decompose: str = "serialize",
    pool: str | None | _AutoPool = AUTO_POOL,
    group_prefix: str = "",
    resources: Sequence[str] | None = None,
) -> Plan:
    """Turn components into tasks and edges for ``decompose`` (any mode but ``mapped``, whose components are
    found at run time).

    :param resources: the names the user asked for; the ``none`` task loads those (``None``: the whole source).
    """
    strategy = strategy_for(decompose)
    if not isinstance(strategy, ComponentStrategy):
        raise InvalidArgumentError(
            f"decompose={strategy.mode!r} has no parse-time plan of its components: they are found when the "
            "group's discover task runs (see authoring/decompose/mapped.py)"
        )
    context = PlanContext(pipeline_name, source_name, pool, group_prefix, resources)
    return strategy.plan_components(list(components), context)
