"""Airflow ``duckdb`` connection (airflow-provider-duckdb) -> dlt ``duckdb`` destination (a local file)."""

from __future__ import annotations

from airflow_dlt_provider.connections.base import ConnectionMapping


class DuckDbMapping(ConnectionMapping):
    name = "duckdb"
    auth = "none (a database file)"
    conn_types = ("duckdb",)
    destination = "duckdb"
    pip_extra = "duckdb"
    driver_modules = ("duckdb",)
    fields = {"database": ("host", "extra.path", "extra.database", "schema")}
    required = ("database",)
    source_drivername = "duckdb"
