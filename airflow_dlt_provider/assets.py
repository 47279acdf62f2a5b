"""Airflow assets (datasets on Airflow 2) and lineage names for the tables a dlt task loads.

Two URIs per table
------------------
A table has two names, because Airflow needs one at DAG parse time and the table's real location is only
known on the worker (the host, database or bucket lives in an Airflow connection, and parse time never looks
connections up):

* the **logical URI** ``dlt://<target>/<dataset>/<table>``, known at parse time. ``<target>`` is the
  ``destination_conn_id`` when there is one, else the destination's name (``duckdb``, ``bigquery``...); the
  embedded DuckDB default keeps one file per pipeline, so its target is ``duckdb.<pipeline_name>``. The same
  DAG gives the same URI in dev and prod, and a consumer DAG can name it without knowing any host:
  ``schedule=[table_asset("warehouse", "raw_github", "issues")]``.
* the **location URI**, built on the worker from the destination's configuration (never its secrets),
  following the Airflow and OpenLineage conventions:

  ==============  ==================================================================
  postgres        ``postgres://host:port/database/schema/table`` (port always written)
  redshift        ``redshift://host:port/database/schema/table``
  mssql           ``mssql://host:port/database/schema/table``
  bigquery        ``bigquery://project/dataset/table``
  snowflake       ``snowflake://account/database/schema/table``
  duckdb          ``duckdb:///abs/path/file.duckdb/dataset/table``; Airflow 2.11 and 3.3 store it as
                  ``duckdb:/abs/path/file.duckdb/dataset/table`` (no authority), which is what
                  :func:`location_uri` returns, so both spellings name the same asset
  filesystem      ``<bucket_url>/<dataset>/<table>``: ``file:///abs/path/...``, ``s3://bucket/...``,
                  ``gs://bucket/...``, ``az://container/...``
  other SQL       ``<type>://host:port/database/schema/table`` when the credentials have a host
  ==============  ==================================================================

  User name, password and query parameters never enter a URI or an event's ``extra``.

What Airflow receives
---------------------
* Tables known at parse time -- the resources of a source *object* passed to the operator (a factory is never
  called at parse time just for this), when ``dataset_name`` is given and both names are already what dlt
  writes (lower-case ``[a-z][a-z0-9_]*``) -- are declared as outlets with their logical URI. Airflow emits their
  event when the task succeeds; the task fills in ``extra`` (``rows`` is 0 when the resource yielded nothing).
* Every other table (child tables such as ``issues__labels``, tables of factories, dynamic table names) and
  every location URI reaches Airflow through the asset alias ``dlt:<pipeline_name>``, also an outlet of the
  task: ``outlet_events[alias].add(Asset(uri), extra=...)``.
* ``extra`` of every event: ``rows``, ``load_id``, ``pipeline_name``, ``dataset_name``, ``table``,
  ``destination``, and on logical events ``location`` (the location URI, when known). ``dataset_name`` and
  the URIs use the names dlt used at the destination (``My-Data`` becomes ``my_data``).

``emit_assets=False`` declares no outlets and emits nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

log = logging.getLogger("airflow_dlt_provider.assets")

LOGICAL_SCHEME = "dlt"
ALIAS_PREFIX = "dlt:"


# ---------------------------------------------------------------- logical URIs (parse time)


def _part(value: str) -> str:
    """One URI component: ASCII only, no ``/ : @ ? #`` (so nothing reads as a host, user or query)."""
    return quote(str(value), safe="-_.~")


_PLAIN_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")


def logical_uri(target: str, dataset_name: str, table: str) -> str:
    """``dlt://<target>/<dataset>/<table>``: the stable URI of a table, known at parse time."""
    return f"{LOGICAL_SCHEME}://{_part(target)}/{_part(dataset_name)}/{_part(table)}"


def destination_target(destination_conn_id: str | None, destination: Any, pipeline_name: str) -> str:
    """The ``<target>`` part of logical URIs: the connection id, else the destination's name."""
    if destination_conn_id:
        return destination_conn_id
    name = destination if isinstance(destination, str) else getattr(destination, "destination_name", None)
    if destination is None or name == "duckdb":
        return f"duckdb.{pipeline_name}"
    return str(name or type(destination).__name__)


def alias_name(pipeline_name: str) -> str:
    """Name of the asset alias through which tables found at run time reach Airflow."""
    return f"{ALIAS_PREFIX}{pipeline_name}"


def table_asset(
    destination_conn_id: str, dataset_name: str, table: str, *, pipeline_name: str | None = None
) -> Any:
    """The asset a consumer DAG schedules on: ``table_asset("warehouse", "raw_github", "issues")``.

    For the embedded DuckDB default pass ``destination_conn_id=None`` and the ``pipeline_name``.
    """
    from airflow_dlt_provider._compat import Asset

    target = destination_target(destination_conn_id, None, pipeline_name or "")
    if not destination_conn_id and not pipeline_name:
        raise ValueError(
            "table_asset needs a destination_conn_id, or the pipeline_name for the DuckDB default"
        )
    return Asset(logical_uri(target, dataset_name, table))


def _is_templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


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


@dataclass(frozen=True)
class DeclaredAssets:
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
    if _is_templated(destination_conn_id) or not _is_plain_identifier(dataset_name) or source_spec.is_factory:
        return DeclaredAssets(target, {}, alias)
    tables = [
        t for t in tables_known_at_parse_time(source_spec.target, resource_names) if _is_plain_identifier(t)
    ]
    return DeclaredAssets(
        target, {t: Asset(logical_uri(target, str(dataset_name), t)) for t in tables}, alias
    )


def _is_plain_identifier(name: str | None) -> bool:
    """A name dlt keeps as it is at the destination, so it can be declared before the run.

    Other names (``None``: dlt's configuration decides; templated; ``My-Data``: dlt normalises it) reach
    Airflow through the alias once the run knows what dlt used.
    """
    return isinstance(name, str) and _PLAIN_IDENTIFIER.fullmatch(name) is not None


# ---------------------------------------------------------------- location URIs (run time)


@dataclass(frozen=True)
class DestinationLocation:
    """Where a destination keeps its tables; credentials are never stored here."""

    kind: str
    host: str | None = None
    port: int | None = None
    database: str | None = None
    path: str | None = None

    def uri(self, dataset_name: str, table: str) -> str | None:
        builder = _URI_BUILDERS.get(self.kind, _generic_sql_uri)
        return builder(self, dataset_name, table)

    def openlineage_name(self, dataset_name: str, table: str) -> tuple[str, str] | None:
        """``(namespace, name)`` of the table per the OpenLineage naming conventions."""
        builder = _OL_BUILDERS.get(self.kind, _generic_sql_ol)
        return builder(self, dataset_name, table)


_DEFAULT_PORTS = {"postgres": 5432, "redshift": 5439, "mssql": 1433, "synapse": 1433, "clickhouse": 9440}


def _host_port(location: DestinationLocation) -> str | None:
    if not location.host:
        return None
    port = location.port or _DEFAULT_PORTS.get(location.kind)
    return f"{location.host}:{port}" if port else location.host


def _generic_sql_uri(location: DestinationLocation, dataset: str, table: str) -> str | None:
    authority = _host_port(location)
    if not authority or not location.database:
        return None
    return f"{location.kind}://{authority}/{_part(location.database)}/{_part(dataset)}/{_part(table)}"


def _generic_sql_ol(location: DestinationLocation, dataset: str, table: str) -> tuple[str, str] | None:
    authority = _host_port(location)
    if not authority or not location.database:
        return None
    return f"{location.kind}://{authority}", f"{location.database}.{dataset}.{table}"


def _bigquery_uri(location: DestinationLocation, dataset: str, table: str) -> str | None:
    if not location.database:
        return None
    return f"bigquery://{_part(location.database)}/{_part(dataset)}/{_part(table)}"


def _bigquery_ol(location: DestinationLocation, dataset: str, table: str) -> tuple[str, str] | None:
    return ("bigquery", f"{location.database}.{dataset}.{table}") if location.database else None


def _snowflake_uri(location: DestinationLocation, dataset: str, table: str) -> str | None:
    if not location.host or not location.database:
        return None
    return f"snowflake://{_part(location.host)}/{_part(location.database)}/{_part(dataset)}/{_part(table)}"


def _snowflake_ol(location: DestinationLocation, dataset: str, table: str) -> tuple[str, str] | None:
    if not location.host or not location.database:
        return None
    return f"snowflake://{location.host}", f"{location.database}.{dataset}.{table}"


def _duckdb_uri(location: DestinationLocation, dataset: str, table: str) -> str | None:
    if not location.path:
        return None
    return f"duckdb:{quote(location.path)}/{_part(dataset)}/{_part(table)}"


def _duckdb_ol(location: DestinationLocation, dataset: str, table: str) -> tuple[str, str] | None:
    if not location.path:
        return None
    return f"duckdb://{location.path}", f"{Path(location.path).stem}.{dataset}.{table}"


def _filesystem_uri(location: DestinationLocation, dataset: str, table: str) -> str | None:
    if not location.path:
        return None
    return f"{location.path.rstrip('/')}/{_part(dataset)}/{_part(table)}"


def _filesystem_ol(location: DestinationLocation, dataset: str, table: str) -> tuple[str, str] | None:
    if not location.path:
        return None
    parts = urlsplit(location.path)
    if parts.scheme == "file":
        return "file", f"{parts.path.rstrip('/')}/{dataset}/{table}"
    prefix = parts.path.strip("/")
    return f"{parts.scheme}://{parts.netloc}", "/".join(p for p in (prefix, dataset, table) if p)


_Builder = Callable[[DestinationLocation, str, str], Any]
_URI_BUILDERS: dict[str, _Builder] = {
    "bigquery": _bigquery_uri,
    "snowflake": _snowflake_uri,
    "duckdb": _duckdb_uri,
    "filesystem": _filesystem_uri,
}
_OL_BUILDERS: dict[str, _Builder] = {
    "bigquery": _bigquery_ol,
    "snowflake": _snowflake_ol,
    "duckdb": _duckdb_ol,
    "filesystem": _filesystem_ol,
}


def bucket_url_without_secrets(bucket_url: str) -> str:
    """A filesystem bucket URL as a URI without user info, query or fragment; local paths become file://."""
    parts = urlsplit(bucket_url)
    if not parts.scheme or len(parts.scheme) == 1:  # a local path (or a Windows drive letter)
        return Path(bucket_url).expanduser().resolve().as_uri()
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    scheme = {"gcs": "gs", "gdrive": "gdrive", "abfss": "az", "abfs": "az", "adl": "az"}.get(
        parts.scheme, parts.scheme
    )
    if scheme == "az" and parts.username and not parts.password:  # container@account.dfs.core...
        netloc = parts.username
    return urlunsplit((scheme, netloc, parts.path, "", ""))


def _credential(credentials: Any, *names: str) -> Any:
    for name in names:
        value = getattr(credentials, name, None)
        if value:
            return value
    return None


def location_from_config(destination_type: str, config: Any) -> DestinationLocation:
    """Build a :class:`DestinationLocation` from a dlt destination client configuration (no secrets)."""
    kind = destination_type.rsplit(".", 1)[-1]
    credentials = getattr(config, "credentials", None)
    if kind == "filesystem":
        bucket_url = getattr(config, "bucket_url", None)
        return DestinationLocation(kind, path=bucket_url_without_secrets(bucket_url) if bucket_url else None)
    if kind == "duckdb":
        database = _credential(credentials, "database")
        path = None if not database or database == ":memory:" else str(Path(database).expanduser().resolve())
        return DestinationLocation(kind, path=path)
    if kind == "bigquery":
        return DestinationLocation(kind, database=_credential(credentials, "project_id"))
    if kind == "snowflake":
        account = _credential(credentials, "host", "account")
        return DestinationLocation(
            kind,
            host=str(account).lower() if account else None,
            database=_credential(credentials, "database"),
        )
    port = _credential(credentials, "port")
    return DestinationLocation(
        kind,
        host=_credential(credentials, "host"),
        port=int(port) if port else None,
        database=_credential(credentials, "database"),
    )


def location_from_pipeline(pipeline: Any) -> DestinationLocation | None:
    """The location of ``pipeline``'s destination, or ``None`` when it cannot be told (logged, not raised)."""
    destination = getattr(pipeline, "destination", None)
    if destination is None:
        return None
    try:  # the resolved configuration, without importing the destination's client libraries
        config = destination.configuration(destination.spec(), accept_partial=True)
    except Exception as error:  # e.g. a driver imported while resolving (mssql needs pyodbc)
        log.debug("no location for destination %s: %s", destination.destination_name, type(error).__name__)
        return None
    return location_from_config(destination.destination_type, config)


# ---------------------------------------------------------------- what one run loaded


@dataclass
class RunDetails:
    """Filled by the runtime on the worker: where the tables are and their columns (for lineage)."""

    location: DestinationLocation | None = None
    columns: dict[str, dict[str, str]] = field(default_factory=dict)

    def fill(self, pipeline: Any, tables: Iterable[str]) -> None:
        self.location = location_from_pipeline(pipeline)
        schema_tables = pipeline.default_schema.tables if pipeline.default_schema_name else {}
        for table in tables:
            columns = (schema_tables.get(table) or {}).get("columns") or {}
            self.columns[table] = {
                name: str(column.get("data_type") or "unknown") for name, column in columns.items()
            }


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
    location: DestinationLocation | None,
) -> list[str]:
    """Record one event per loaded table (logical URI, and location URI when known); returns the URIs.

    ``target`` is the logical target with templates rendered (``declared.target`` is the parse-time one).
    """
    from airflow_dlt_provider._compat import Asset, ensure_asset_alias_registered

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
        if physical is not None and table in rows:
            alias_events.add(Asset(physical), extra=extra)
            emitted.append(physical)
    return emitted
