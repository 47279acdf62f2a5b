"""Run-time discovery for ``decompose="mapped"``: call the factory, find the components, name them.

The discover task of a mapped group runs this inside the task: the factory gets the rendered
``source_kwargs`` and the credentials of ``source_conn_ids`` (a ``sql_database`` reflects the database
here, not at parse time), and the components are found exactly as the parse-time plan finds them
(``plan.components_from_source``). Its return value is the list the mapped load task expands over.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_dlt_provider.authoring.plan import components_from_source, name_mapped_components
from airflow_dlt_provider.authoring.sources import SourceSpec, check_resource_names, instantiate_source

log = logging.getLogger("airflow_dlt_provider.runtime")

__all__ = ["discover_components"]


def discover_components(
    spec: SourceSpec,
    *,
    pipeline_name: str,
    source_kwargs: Mapping[str, Any] | None = None,
    source_conn_ids: Mapping[str, str] | None = None,
    resources: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The components of the source as JSON (``MappedComponent.as_xcom``), one per map index.

    ``resources`` restricts discovery to those names (unknown names fail, listing the available ones).
    """
    from airflow_dlt_provider.runtime.dlt_config import airflow_variable_lookups
    from airflow_dlt_provider.runtime.pipeline_run import dlt_logs_to_task_log, source_credentials

    with airflow_variable_lookups(secrets_toml=True, pipeline_name=pipeline_name), dlt_logs_to_task_log():
        kwargs = {**dict(source_kwargs or {}), **source_credentials(source_conn_ids or {})}
        source = instantiate_source(spec, kwargs)
        names = list(resources) if resources is not None else None
        if names is not None:
            check_resource_names(names, source.resources, source.name)
        components = name_mapped_components(components_from_source(source, names), pipeline_name)
    log.info(
        "source %r: %d component(s) to load, one map index each: %s",
        source.name,
        len(components),
        ", ".join(component.name for component in components) or "(none)",
    )
    return [component.as_xcom() for component in components]
