"""Location URIs of tables, built on the worker from the destination's configuration (never its secrets)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from airflow_dlt_provider.assets.uris import uri_part

log = logging.getLogger(__name__)


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
        naming = self._naming()
        if naming is None:
            return None
        return f"{naming.root(self)}/{uri_part(dataset_name)}/{uri_part(table)}"

    def openlineage_name(self, dataset_name: str, table: str) -> tuple[str, str] | None:
        """``(namespace, name)`` of the table per the OpenLineage naming conventions."""
        naming = self._naming()
        if naming is None:
            return None
        if naming.namespace is None or naming.database is None:
            return _filesystem_ol(self, dataset_name, table)
        return naming.namespace(self), f"{naming.database(self)}.{dataset_name}.{table}"

    def _naming(self) -> _TableNaming | None:
        """How this kind of destination names a table, ``None`` when a location field it needs is empty."""
        naming = _NAMINGS.get(self.kind, _GENERIC_SQL)
        return naming if all(getattr(self, name) for name in naming.needs) else None


_DEFAULT_PORTS = {"postgres": 5432, "redshift": 5439, "mssql": 1433, "synapse": 1433, "clickhouse": 9440}
_Part = Callable[[DestinationLocation], str]


@dataclass(frozen=True)
class _TableNaming:
    """How one kind of destination names a table: the location fields it needs; the root of its asset URIs
    (``<root>/<dataset>/<table>``); its OpenLineage namespace and the first part of the OpenLineage name
    (``<database>.<dataset>.<table>``), both ``None`` for files (:func:`_filesystem_ol`)."""

    needs: tuple[str, ...]
    root: _Part
    namespace: _Part | None = None
    database: _Part | None = None


def _host_port(location: DestinationLocation) -> str:
    port = location.port or _DEFAULT_PORTS.get(location.kind)
    return f"{location.host}:{port}" if port else str(location.host)


def _filesystem_ol(location: DestinationLocation, dataset: str, table: str) -> tuple[str, str]:
    parts = urlsplit(str(location.path))
    if parts.scheme == "file":
        return "file", f"{parts.path.rstrip('/')}/{dataset}/{table}"
    prefix = parts.path.strip("/")
    return f"{parts.scheme}://{parts.netloc}", "/".join(p for p in (prefix, dataset, table) if p)


_GENERIC_SQL = _TableNaming(
    ("host", "database"),
    root=lambda at: f"{at.kind}://{_host_port(at)}/{uri_part(str(at.database))}",
    namespace=lambda at: f"{at.kind}://{_host_port(at)}",
    database=lambda at: str(at.database),
)
_NAMINGS = {
    "bigquery": _TableNaming(
        ("database",),
        root=lambda at: f"bigquery://{uri_part(str(at.database))}",
        namespace=lambda at: "bigquery",
        database=lambda at: str(at.database),
    ),
    "snowflake": _TableNaming(
        ("host", "database"),
        root=lambda at: f"snowflake://{uri_part(str(at.host))}/{uri_part(str(at.database))}",
        namespace=lambda at: f"snowflake://{at.host}",
        database=lambda at: str(at.database),
    ),
    "duckdb": _TableNaming(
        ("path",),
        root=lambda at: f"duckdb:{quote(str(at.path))}",
        namespace=lambda at: f"duckdb://{at.path}",
        database=lambda at: Path(str(at.path)).stem,
    ),
    "filesystem": _TableNaming(("path",), root=lambda at: str(at.path).rstrip("/")),
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
    schema_tables: frozenset[str] = frozenset()  # every table the pipeline's schema holds after the run

    def fill(self, pipeline: Any, tables: Iterable[str]) -> None:
        self.location = location_from_pipeline(pipeline)
        schema_tables = pipeline.default_schema.tables if pipeline.default_schema_name else {}
        self.schema_tables = frozenset(schema_tables)
        for table in tables:
            columns = (schema_tables.get(table) or {}).get("columns") or {}
            self.columns[table] = {
                name: str(column.get("data_type") or "unknown") for name, column in columns.items()
            }
