"""The mapping base class: what every mapping hands a source factory (connections/base.py)."""

from __future__ import annotations

import dlt
from support.secrets import HARD_PASSWORD

from airflow_dlt_provider.connections import source_credentials_from_connection
from airflow_dlt_provider.connections.base import resolved_for_source


@dlt.source
def untyped_source(credentials=dlt.secrets.value):
    @dlt.resource
    def fields():
        yield {"host": credentials.host, "username": credentials.username, "password": credentials.password}

    return fields


def _rows(source) -> list[dict]:
    return list(source.resources["fields"])


def test_untyped_source_argument_takes_sql_credentials(make_conn):
    """``credentials=dlt.secrets.value`` without a type hint rejected the unresolved object dlt was handed
    (``ConfigFieldMissingException ... credentials``); typed arguments took it."""
    conn_id = make_conn(
        "postgres", host="db.example.com", login="reader", password=HARD_PASSWORD, schema="app"
    )
    credentials = source_credentials_from_connection(conn_id)
    assert credentials.is_resolved()
    rows = _rows(untyped_source(credentials=credentials))
    assert rows == [{"host": "db.example.com", "username": "reader", "password": HARD_PASSWORD}]


def test_untyped_source_argument_takes_credentials_of_a_dlt_connection(make_conn):
    conn_id = make_conn(
        "dlt", extra={"destination": "postgres", "credentials": "postgresql://u:pw12345@h:5/d"}
    )
    rows = _rows(untyped_source(credentials=source_credentials_from_connection(conn_id)))
    assert rows == [{"host": "h", "username": "u", "password": "pw12345"}]


def test_incomplete_credentials_stay_open_for_dlt_to_complete():
    """Credentials missing a required field are not marked resolved: a typed argument can still take the
    missing value from dlt's configuration, as it could before."""
    from dlt.common.configuration.specs import ConnectionStringCredentials

    incomplete = ConnectionStringCredentials()
    incomplete.host = "h"
    assert not resolved_for_source(incomplete).is_resolved()


def test_values_that_are_no_configuration_pass_through():
    assert resolved_for_source("a-token-value") == "a-token-value"
    assert resolved_for_source(None) is None
