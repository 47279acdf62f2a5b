"""Airflow ``http`` connection -> the token (or API key) a REST source factory takes. Source only."""

from __future__ import annotations

from typing import Any

from airflow_dlt_provider.connections.base import ConnectionMapping


class HttpTokenMapping(ConnectionMapping):
    name = "http_token"
    auth = "bearer token or API key (password, extra.token or extra.api_key); sources only"
    conn_types = ("http", "https")
    fields = {"token": ("password", "extra.token", "extra.api_key", "extra.access_token")}
    required = ("token",)
    secret_fields = ("token",)

    def source_credentials(self) -> Any:
        """The token itself (masked), for factory arguments such as ``access_token`` or ``api_key``."""
        return self.values().credentials["token"]
