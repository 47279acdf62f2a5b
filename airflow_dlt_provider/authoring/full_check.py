"""The check parse time no longer does: import each source, call factories where needed, check resource names.

A DAG file's parse only *locates* an import string (``sources.py``) and, with ``resources=``, never calls the
factory, so a wrong attribute deep in the module or a misspelt resource name would only show when the task
runs. ``airflow-dlt check`` and the pytest plugin (``testing.checks.assert_dlt_sources_valid``) run this
module over a DAGs folder in CI instead: every ``DltRunOperator`` gets its source imported and, when it names
resources, its factory called once with the (unrendered) ``source_kwargs`` to list the resources. A factory
that cannot be called here (it needs credentials from a connection, a templated argument, a database that is
not reachable from CI) is reported as *not checked*, not as an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_dlt_provider.authoring.sources import (
    SourceSpec,
    check_resource_names,
    check_source_arguments,
    instantiate_source,
)
from airflow_dlt_provider.exceptions import DltProviderError


@dataclass(frozen=True)
class Finding:
    """One result of the check: ``error`` fails it, ``unchecked`` only warns."""

    kind: str  # "error" | "unchecked"
    where: str  # "<dag_id>.<task_id>"
    message: str

    def __str__(self) -> str:
        return f"{self.kind:<9} {self.where}: {self.message}"


def check_dlt_tasks(dags: Iterable[Any]) -> list[Finding]:
    """Findings for every ``DltRunOperator`` (and mapped group's discover task) of ``dags`` (sorted by task)."""
    from airflow_dlt_provider.operators.mapped import DltDiscoverOperator
    from airflow_dlt_provider.operators.run import DltRunOperator

    graphs: dict[str, Any] = {}
    findings: list[Finding] = []
    for dag in dags:
        for task in dag.tasks:
            if isinstance(task, (DltRunOperator, DltDiscoverOperator)):
                findings += _check_task(task, f"{dag.dag_id}.{task.task_id}", graphs)
    return sorted(findings, key=lambda f: (f.where, f.kind))


def _check_task(task: Any, where: str, graphs: dict[str, Any]) -> list[Finding]:
    try:
        spec: SourceSpec = task._source_spec.resolved()
    except DltProviderError as error:
        return [Finding("error", where, str(error))]
    try:
        check_source_arguments(spec, task.source_kwargs, task.source_conn_ids)
    except DltProviderError as error:
        return [Finding("error", where, str(error))]
    if task.resource_names is None:
        return []
    graph = _graph(spec, task, where, graphs)
    if isinstance(graph, Finding):
        return [graph]
    try:
        check_resource_names(task.resource_names, graph.resources, graph.name)
    except DltProviderError as error:
        return [Finding("error", where, str(error))]
    return []


def _graph(spec: SourceSpec, task: Any, where: str, graphs: dict[str, Any]) -> Any:
    """The source with its resources (the factory called once per source and arguments), or a finding."""
    key = f"{spec.display_name}|{_kwargs_key(task.source_kwargs)}"
    if key not in graphs:
        graphs[key] = _call(spec, task, where)
    found = graphs[key]
    if isinstance(found, Finding):
        return Finding(found.kind, where, found.message)
    return found


def _call(spec: SourceSpec, task: Any, where: str) -> Any:
    if task.source_conn_ids:
        arguments = ", ".join(sorted(task.source_conn_ids))
        return Finding(
            "unchecked",
            where,
            f"resource names not checked: source {spec.display_name!r} takes {arguments} from Airflow "
            "connections (not read by the check)",
        )
    if _is_templated(task.source_kwargs):
        return Finding(
            "unchecked",
            where,
            f"resource names not checked: source_kwargs of {spec.display_name!r} are templated",
        )
    from airflow_dlt_provider.runtime.dlt_config import airflow_variable_lookups

    try:
        with airflow_variable_lookups(secrets_toml=False):
            return instantiate_source(spec, task.source_kwargs)
    except DltProviderError as error:
        return Finding("error", where, str(error))
    except Exception as error:  # a factory that needs what CI does not have
        from airflow_dlt_provider import _compat

        first_line = (str(error).splitlines() or [""])[0]
        return Finding(
            "unchecked",
            where,
            f"resource names not checked: calling {spec.display_name!r} failed "
            f"({type(error).__name__}: {_compat.redact(first_line)})",
        )


def _is_templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_is_templated(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_is_templated(v) for v in value)
    return False


def _kwargs_key(source_kwargs: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(source_kwargs or {}), sort_keys=True, default=repr)
