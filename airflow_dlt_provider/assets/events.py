"""What a task declares at parse time (outlets) and the asset events it emits after a run."""

# No ``from __future__ import annotations`` in this module: a NamedTuple whose field annotations are strings
# costs ~0.13 ms more to define, and every DAG parse defines these (bench/bench_parse.py).

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_dlt_provider.assets.uris import (
    alias_name,
    destination_target,
    is_plain_identifier,
    is_templated,
    logical_uri,
)

if TYPE_CHECKING:  # the locations are built on the worker only: a DAG file's parse does not import them
    from airflow_dlt_provider.assets.locations import DestinationLocation


def tables_known_at_parse_time(source_target: Any, resource_names: Iterable[str] | None) -> list[str]:
    """Table names of a source/resource *object* (never a factory): its selected resources' tables."""
    resources = getattr(source_target, "resources", None)
    if resources is None:  # a single DltResource
        candidates = [source_target]
    elif resource_names is not None:  # look the names up: a task of a big group must not scan every resource
        candidates = [resources[name] for name in resource_names if name in resources]
    else:
        candidates = [r for r in resources.values() if r.selected]
    tables: dict[str, None] = {}
    for resource in candidates:
        table_name = getattr(resource, "table_name", None)
        if isinstance(table_name, str):
            tables[table_name] = None
    return list(tables)


class DeclaredAssets(NamedTuple):
    """What an operator declares at parse time: logical asset per known table, and the alias."""

    target: str
    tables: dict[str, Any]
    alias: Any

    @property
    def outlets(self) -> list[Any]:
        return [*self.tables.values(), self.alias]


def declare(
    *,
    source_spec: Any,
    resource_names: Iterable[str] | None,
    pipeline_name: str,
    destination: Any,
    destination_conn_id: str | None,
    dataset_name: str | None,
) -> DeclaredAssets:
    """Outlets for one operator (cheap: no connection lookup, no factory call)."""
    from airflow_dlt_provider._compat import Asset, AssetAlias

    target = destination_target(destination_conn_id, destination, pipeline_name)
    alias = AssetAlias(alias_name(pipeline_name))
    if is_templated(destination_conn_id) or not is_plain_identifier(dataset_name):
        return DeclaredAssets(target, {}, alias)
    if source_spec.is_factory:  # not called at parse time: a named resource loads the table of its name
        known = list(resource_names or [])
    else:
        known = tables_known_at_parse_time(source_spec.target, resource_names)
    tables = [t for t in known if is_plain_identifier(t)]
    return DeclaredAssets(
        target, {t: Asset(logical_uri(target, str(dataset_name), t)) for t in tables}, alias
    )


# ---------------------------------------------------------------- what one run loaded


def event_extra(summary: Mapping[str, Any], table: str, rows: int) -> dict[str, Any]:
    load_ids = list(summary.get("load_ids") or [])
    return {
        "rows": int(rows),
        "load_id": load_ids[-1] if load_ids else None,
        "pipeline_name": summary.get("pipeline_name"),
        "dataset_name": summary.get("dataset_name"),
        "table": table,
        "destination": summary.get("destination"),
    }


def emit_asset_events(
    outlet_events: Any,
    summary: Mapping[str, Any],
    declared: DeclaredAssets,
    target: str,
    location: "DestinationLocation | None",
) -> list[str]:
    """Record one event per loaded table on its logical asset; returns the URIs.

    A table declared at parse time gets its event on that outlet (Airflow then shows the task as its
    producer); a table found at run time gets it through the alias. The location URI of a table is part of
    the event's ``extra`` (``location``), not an asset of its own: one asset per table.
    ``target`` is the logical target with templates rendered (``declared.target`` is the parse-time one).
    """
    from airflow_dlt_provider._compat import Asset

    ensure_asset_alias_registered(declared.alias.name)
    dataset = str(summary.get("dataset_name") or "")
    rows: Mapping[str, int] = summary.get("rows") or {}
    emitted: list[str] = []
    alias_events = outlet_events[declared.alias]
    for table in sorted(set(rows) | set(declared.tables)):
        extra = event_extra(summary, table, rows.get(table, 0))
        physical = location.uri(dataset, table) if location is not None else None
        logical = logical_uri(target, dataset, table)
        declared_asset = declared.tables.get(table)
        if declared_asset is not None:
            outlet_events[declared_asset].extra = {**extra, "location": physical}
        if declared_asset is None or declared_asset.uri != logical:  # e.g. dlt chose another dataset name
            alias_events.add(Asset(logical), extra={**extra, "location": physical})
        emitted.append(logical)
    return emitted


def ensure_asset_alias_registered(name: str) -> None:
    """Airflow 2: write the dataset alias ``name`` to the metadata DB if no DAG processor has done it yet.

    Airflow 2 fails a task whose events go through an alias it has no row for (``FlushError: None value found
    in collection DatasetModel.aliases``); that is the case under ``airflow dags test`` of a DAG the scheduler
    never parsed. Airflow 3 handles this itself. Airflow 2 has no public call that registers one alias: the
    ``DatasetAliasModel`` ORM model.
    """
    from airflow_dlt_provider import _compat

    if _compat.AIRFLOW_V_3_0_PLUS:
        return
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    alias = _compat.DatasetAliasModel
    try:
        with _compat.create_session() as session:
            if session.scalar(select(alias.id).where(alias.name == name)) is None:
                session.add(alias(name=name))
    except IntegrityError:  # another task registered it in the meantime
        pass
