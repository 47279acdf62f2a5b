"""Airflow ``motherduck`` connection, or a ``duckdb`` one holding a token -> dlt ``motherduck`` destination."""

from __future__ import annotations

from airflow_dlt_provider.connections.base import ConnectionMapping

_TOKEN = ("password", "extra.motherduck_token", "extra.token")


class MotherDuckMapping(ConnectionMapping):
    name = "motherduck"
    auth = "service token (password or extra.motherduck_token)"
    conn_types = ("motherduck", "duckdb")
    destination = "motherduck"
    pip_extra = "motherduck"
    driver_modules = ("duckdb",)
    fields = {"database": ("schema", "host", "extra.database"), "password": _TOKEN}
    required = ("database", "password")
    secret_fields = ("password",)
    claim_when_any = _TOKEN
    infer_when_any = _TOKEN
    priority = 10

    def transform_database(self, database: str | None) -> str | None:
        """``md:my_db`` (the DuckDB form) -> ``my_db``."""
        if database and database.startswith("md:"):
            return database[3:] or None
        return database
