"""Airflow ``redshift`` connection (amazon provider) -> dlt ``redshift`` destination."""

from __future__ import annotations

from typing import ClassVar

from airflow_dlt_provider.connections.base import LOGIN_FIELDS, SERVER_FIELDS
from airflow_dlt_provider.connections.postgres import PostgresMapping


class RedshiftMapping(PostgresMapping):
    name = "redshift"
    conn_types: ClassVar[tuple[str, ...]] = ("redshift",)
    destination = "redshift"
    pip_extra = "redshift"
    fields = {
        **SERVER_FIELDS,
        **LOGIN_FIELDS,
        "database": ("schema", "extra.database", "extra.db_name"),
        "connect_timeout": "extra.connect_timeout",
    }
    config_fields = {"staging_iam_role": ("extra.staging_iam_role", "extra.iam_role")}
    required: ClassVar[tuple[str, ...]] = ("host", "username", "password", "database")
    query_extras: ClassVar[tuple[str, ...]] = ("sslmode",)
