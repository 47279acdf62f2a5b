"""Airflow ``mssql`` connection -> dlt ``mssql`` destination (and SQL sources over pyodbc)."""

from __future__ import annotations

from airflow_dlt_provider.connections.base import LOGIN_FIELDS, SERVER_FIELDS, ConnectionMapping


class MsSqlMapping(ConnectionMapping):
    name = "mssql"
    auth = "SQL login and password"
    conn_types = ("mssql",)
    destination = "mssql"
    pip_extra = "mssql"
    driver_modules = ("pyodbc",)
    fields = {
        **SERVER_FIELDS,
        **LOGIN_FIELDS,
        "database": ("schema", "extra.database"),
        "driver": ("extra.driver", "extra.odbc_driver"),
        "connect_timeout": "extra.connect_timeout",
    }
    required = ("host", "username", "password", "database")
    secret_fields = ("password",)
    int_fields = ("port",)
    query_extras = ("TrustServerCertificate", "Encrypt")
    source_drivername = "mssql+pyodbc"
