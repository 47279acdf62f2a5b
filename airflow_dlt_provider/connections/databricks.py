"""Airflow ``databricks`` connection -> dlt ``databricks`` destination (personal access token)."""

from __future__ import annotations

from airflow_dlt_provider.connections.base import ConnectionMapping


class DatabricksMapping(ConnectionMapping):
    name = "databricks"
    auth = "personal access token (password or extra.token)"
    conn_types = ("databricks",)
    destination = "databricks"
    pip_extra = "databricks"
    driver_modules = ("databricks.sql",)
    fields = {
        "server_hostname": "host",
        "http_path": ("extra.http_path", "extra.sql_endpoint_http_path"),
        "access_token": ("password", "extra.token"),
        "catalog": ("extra.catalog", "schema"),
    }
    config_fields = {"staging_credentials_name": "extra.staging_credentials_name"}
    required = ("server_hostname", "http_path", "access_token", "catalog")
    secret_fields = ("access_token",)

    def transform_server_hostname(self, host: str | None) -> str | None:
        """Airflow accepts ``https://adb-1.azuredatabricks.net/``; dlt wants the bare host name."""
        if host is None:
            return None
        return host.split("://", 1)[-1].rstrip("/")
