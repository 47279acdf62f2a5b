"""The connection form of the ``dlt`` connection type, as data (no imports).

``provider_info`` hands it to Airflow 3.2+ declaratively (``conn-fields``, ``ui-field-behaviour``);
``DltHook`` turns the same data into the wtforms widgets older Airflow versions ask hooks for.
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "dlt"
HOOK_CLASS_NAME = "airflow_dlt_provider.hooks.dlt.DltHook"
HOOK_NAME = "dlt (data load tool)"

# dlt's destinations (``dlt.destinations.__all__`` without the ``destination`` decorator); a contract test
# compares them with the installed dlt. The form offers them as a drop-down; the mapping accepts any name.
DESTINATIONS: tuple[str, ...] = (
    "athena",
    "bigquery",
    "clickhouse",
    "databricks",
    "dremio",
    "ducklake",
    "duckdb",
    "dummy",
    "fabric",
    "filesystem",
    "lance",
    "lancedb",
    "motherduck",
    "mssql",
    "postgres",
    "qdrant",
    "redshift",
    "snowflake",
    "sqlalchemy",
    "synapse",
    "weaviate",
)

SECTION = "dlt destination"

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "destination": {
        "label": "Destination",
        "description": "The dlt destination the credentials are for",
        "schema": {"type": ["string", "null"], "enum": list(DESTINATIONS), "section": SECTION},
    },
    "credentials": {
        "label": "Credentials (JSON, no secrets)",
        "description": (
            'dlt credential fields of the destination, e.g. {"project_id": "...", "client_email": "..."}. '
            "Put the password in the Password field above and other secrets in Secret credentials: this field "
            "is shown as typed"
        ),
        "schema": {"type": ["string", "null"], "format": "multiline", "section": SECTION},
    },
    "secret_credentials": {
        "label": "Secret credentials (JSON)",
        "description": 'Secret dlt credential fields, e.g. {"private_key": "..."}: merged into Credentials, masked',
        "schema": {"type": ["string", "null"], "format": "password", "section": SECTION},
    },
    "destination_config": {
        "label": "Destination config (JSON)",
        "description": 'Other arguments of the destination factory, e.g. {"bucket_url": "s3://bucket/path"}',
        "schema": {"type": ["string", "null"], "format": "multiline", "section": SECTION},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": [],
    "relabeling": {"schema": "Database", "login": "Username"},
    "placeholders": {
        "host": "server host (merged into the credentials); destination: see the section 'dlt destination'",
        "schema": "database name",
        "extra": '{"destination": "postgres", "credentials": {"host": "..."}, "secret_credentials": {...}}',
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
