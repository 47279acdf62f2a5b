"""Airflow ``clickhouse`` connection (airflow-clickhouse-plugin) -> dlt ``clickhouse`` destination."""

from __future__ import annotations

from airflow_dlt_provider.connections.base import LOGIN_FIELDS, SERVER_FIELDS, ConnectionMapping


class ClickHouseMapping(ConnectionMapping):
    name = "clickhouse"
    auth = "user and password"
    conn_types = ("clickhouse",)
    destination = "clickhouse"
    pip_extra = "clickhouse"
    driver_modules = ("clickhouse_driver",)
    fields = {
        **SERVER_FIELDS,
        "http_port": "extra.http_port",
        **LOGIN_FIELDS,
        "database": ("schema", "extra.database"),
        "secure": "extra.secure",
    }
    required = ("host", "password")
    secret_fields = ("password",)
    int_fields = ("port", "http_port")
    source_drivername = "clickhouse"

    def transform_secure(self, value: object) -> int | None:
        if value is None:
            return None
        return 1 if str(value).lower() in ("1", "true", "yes") else 0
