"""Airflow ``clickhouse`` connection (airflow-clickhouse-plugin) -> dlt ``clickhouse`` destination."""

from __future__ import annotations

from airflow_dlt_provider.connections.base import ConnectionMapping


class ClickHouseMapping(ConnectionMapping):
    name = "clickhouse"
    auth = "user and password"
    conn_types = ("clickhouse",)
    destination = "clickhouse"
    pip_extra = "clickhouse"
    driver_modules = ("clickhouse_driver",)
    fields = {
        "host": "host",
        "port": "port",
        "http_port": "extra.http_port",
        "username": "login",
        "password": "password",
        "database": ("schema", "extra.database"),
        "secure": "extra.secure",
    }
    required = ("host", "password")
    secret_fields = ("password",)
    source_drivername = "clickhouse"

    def transform_port(self, value: object) -> int | None:
        return int(str(value)) if value is not None else None

    def transform_http_port(self, value: object) -> int | None:
        return int(str(value)) if value is not None else None

    def transform_secure(self, value: object) -> int | None:
        if value is None:
            return None
        return 1 if str(value).lower() in ("1", "true", "yes") else 0
