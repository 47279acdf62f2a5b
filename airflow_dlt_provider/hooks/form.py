"""The connection form of the ``dlt`` connection type, as data (no imports).

``provider_info`` hands it to Airflow 3.2+ declaratively (``conn-fields``, ``ui-field-behaviour``);
``DltHook`` turns the same data into the wtforms widgets older Airflow versions ask hooks for.
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "dlt"
HOOK_CLASS_NAME = "airflow_dlt_provider.hooks.dlt.DltHook"
HOOK_NAME = "dlt (data load tool)"

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "destination": {
        "label": "Destination",
        "description": "dlt destination name: postgres, snowflake, bigquery, filesystem, duckdb, ...",
        "schema": {"type": ["string", "null"]},
    },
    "credentials": {
        "label": "Credentials",
        "description": "dlt credentials of the destination: a JSON object of dlt field names or a connection string",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "destination_config": {
        "label": "Destination config (JSON)",
        "description": 'Other arguments of the destination factory, e.g. {"bucket_url": "s3://bucket/path"}',
        "schema": {"type": ["string", "null"], "format": "json"},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": [],
    "relabeling": {"schema": "Database", "login": "Username"},
    "placeholders": {
        "host": "server host (merged into the credentials)",
        "schema": "database name",
        "extra": '{"destination": "postgres", "credentials": {"host": "...", "password": "..."}}',
    },
}


def connection_type_info() -> dict[str, Any]:
    """The ``connection-types`` entry of ``get_provider_info()``."""
    return {
        "connection-type": CONN_TYPE,
        "hook-class-name": HOOK_CLASS_NAME,
        "hook-name": HOOK_NAME,
        "conn-fields": CONN_FIELDS,
        "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
    }
