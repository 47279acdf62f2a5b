"""Airflow ``postgres`` connection -> dlt ``postgres`` destination (and SQL sources)."""

from __future__ import annotations

from typing import ClassVar

from airflow_dlt_provider.connections.base import LOGIN_FIELDS, SERVER_FIELDS, ConnectionMapping


class PostgresMapping(ConnectionMapping):
    name = "postgres"
    auth = "password"
    conn_types: ClassVar[tuple[str, ...]] = ("postgres", "postgresql")
    destination = "postgres"
    pip_extra = "postgres"
    driver_modules = ("psycopg2",)
    connects_with_url = True
    fields = {
        **SERVER_FIELDS,
        **LOGIN_FIELDS,
        "database": ("schema", "extra.database", "extra.dbname"),
        "connect_timeout": "extra.connect_timeout",
        "client_encoding": "extra.client_encoding",
    }
    required: ClassVar[tuple[str, ...]] = ("host", "username", "database")
    secret_fields = ("password",)
    int_fields = ("port", "connect_timeout")
    query_extras: ClassVar[tuple[str, ...]] = (
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "options",
        "application_name",
    )
    source_drivername = "postgresql+psycopg2"
    """The driver named: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which the ``postgres``
    extra does not install (dlt's postgres destination uses psycopg2)."""
