"""Which mapping handles a connection: by connection type, then by the fields the connection has."""

from __future__ import annotations

from typing import Any

from airflow_dlt_provider.connections.athena import AthenaMapping
from airflow_dlt_provider.connections.base import ConnectionMapping, format_choices
from airflow_dlt_provider.connections.bigquery import (
    BigQueryDefaultMapping,
    BigQueryKeyfileJsonMapping,
    BigQueryKeyfilePathMapping,
)
from airflow_dlt_provider.connections.clickhouse import ClickHouseMapping
from airflow_dlt_provider.connections.databricks import DatabricksMapping
from airflow_dlt_provider.connections.dlt import DltConnectionMapping
from airflow_dlt_provider.connections.duckdb import DuckDbMapping
from airflow_dlt_provider.connections.filesystem_azure import (
    FilesystemAzureKeyMapping,
    FilesystemAzureServicePrincipalMapping,
)
from airflow_dlt_provider.connections.filesystem_gcs import (
    FilesystemGcsDefaultMapping,
    FilesystemGcsKeyfileJsonMapping,
    FilesystemGcsKeyfilePathMapping,
)
from airflow_dlt_provider.connections.filesystem_s3 import FilesystemS3Mapping
from airflow_dlt_provider.connections.http import HttpTokenMapping
from airflow_dlt_provider.connections.motherduck import MotherDuckMapping
from airflow_dlt_provider.connections.mssql import MsSqlMapping
from airflow_dlt_provider.connections.postgres import PostgresMapping
from airflow_dlt_provider.connections.redshift import RedshiftMapping
from airflow_dlt_provider.connections.snowflake import SnowflakeKeyPairMapping, SnowflakePasswordMapping
from airflow_dlt_provider.exceptions import ConnectionMappingError

MAPPINGS: tuple[type[ConnectionMapping], ...] = (
    PostgresMapping,
    RedshiftMapping,
    SnowflakeKeyPairMapping,
    SnowflakePasswordMapping,
    BigQueryKeyfileJsonMapping,
    BigQueryKeyfilePathMapping,
    BigQueryDefaultMapping,
    MsSqlMapping,
    DatabricksMapping,
    ClickHouseMapping,
    MotherDuckMapping,
    DuckDbMapping,
    AthenaMapping,
    FilesystemS3Mapping,
    FilesystemGcsKeyfileJsonMapping,
    FilesystemGcsKeyfilePathMapping,
    FilesystemGcsDefaultMapping,
    FilesystemAzureServicePrincipalMapping,
    FilesystemAzureKeyMapping,
    DltConnectionMapping,
    HttpTokenMapping,
)
"""Every mapping, most specific first within a connection type (see ``priority``)."""


def supported_conn_types() -> list[str]:
    return sorted({t for mapping in MAPPINGS for t in mapping.conn_types})


def destination_conn_types() -> list[str]:
    """Connection types that can feed a destination (``http`` feeds sources only)."""
    return sorted({t for mapping in MAPPINGS if mapping.destination for t in mapping.conn_types})


def destination_name(destination: Any) -> str | None:
    """``"postgres"`` for ``"postgres"``, ``"dlt.destinations.postgres"`` or a ``postgres`` factory."""
    if destination is None:
        return None
    if isinstance(destination, str):
        return destination.rsplit(".", 1)[-1]
    destination_type = getattr(destination, "destination_type", None)
    if isinstance(destination_type, str):
        return destination_type.rsplit(".", 1)[-1]
    raise ConnectionMappingError(
        f"destination={destination!r} is neither a dlt destination name nor a dlt destination factory"
    )


def claiming_mappings(conn: Any, conn_id: str) -> list[type[ConnectionMapping]]:
    """Mappings that claim ``conn``, most specific first; an error listing the supported types if none."""
    conn_type = conn.conn_type or ""
    of_type = [m for m in MAPPINGS if conn_type in m.conn_types]
    if not of_type:
        raise ConnectionMappingError(
            f"Airflow connection {conn_id!r} has type {conn_type!r}, which has no dlt mapping; supported "
            f"connection types: {format_choices(supported_conn_types())} (or use the generic 'dlt' type)"
        )
    claiming = sorted((m for m in of_type if m.claims(conn)), key=lambda m: -m.priority)
    if not claiming:
        needs = format_choices(f for m in of_type for f in m.claim_when_any)
        raise ConnectionMappingError(
            f"Airflow connection {conn_id!r} (type {conn_type!r}) lacks the fields any mapping needs: set one of {needs}"
        )
    return claiming


def select_destination_mapping(conn: Any, conn_id: str, destination: Any) -> type[ConnectionMapping]:
    """The mapping feeding ``destination`` (a name, a factory or ``None`` to infer it) from ``conn``."""
    claiming = [m for m in claiming_mappings(conn, conn_id) if m.destination]
    if not claiming:
        raise ConnectionMappingError(
            f"Airflow connection {conn_id!r} (type {conn.conn_type!r}) feeds sources only, not a destination; "
            f"connection types that can be a destination: {format_choices(destination_conn_types())}"
        )
    wanted = destination_name(destination)
    if claiming[0] is DltConnectionMapping:
        return DltConnectionMapping
    if wanted is not None:
        for mapping in claiming:
            if mapping.destination == wanted:
                return mapping
        raise ConnectionMappingError(
            f"Airflow connection {conn_id!r} of type {conn.conn_type!r} cannot be used for destination "
            f"{wanted!r}: it maps to {format_choices(m.destination for m in claiming)}; pass one of those "
            "as destination, or use a connection of the destination's type"
        )
    return _infer(conn, conn_id, claiming)


def _infer(conn: Any, conn_id: str, claiming: list[type[ConnectionMapping]]) -> type[ConnectionMapping]:
    if len({m.destination for m in claiming}) == 1:
        return claiming[0]
    pointed = [m for m in claiming if m.inferred_for(conn)]
    defaults = [m for m in claiming if not m.infer_when_any]
    for candidates in (pointed, defaults):
        if len({m.destination for m in candidates}) == 1:
            return candidates[0]
    hints = "; ".join(
        f"{m.destination}: set {' or '.join(m.infer_when_any)}" for m in claiming if m.infer_when_any
    )
    raise ConnectionMappingError(
        f"Airflow connection {conn_id!r} of type {conn.conn_type!r} can feed several destinations "
        f"({format_choices(m.destination for m in claiming)}); pass destination=... or {hints}"
    )


def select_source_mapping(conn: Any, conn_id: str) -> type[ConnectionMapping]:
    """The mapping building source credentials from ``conn``: the first claiming one."""
    return claiming_mappings(conn, conn_id)[0]
