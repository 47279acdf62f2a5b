"""The mapping base class (connections/base.py): what every mapping hands a source factory, how fields are read."""

from __future__ import annotations

from types import SimpleNamespace

import dlt
from support.secrets import HARD_PASSWORD

from airflow_dlt_provider.connections import source_credentials_from_connection
from airflow_dlt_provider.connections.base import ConnectionMapping, resolved_for_source


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


class _NumberedMapping(ConnectionMapping):
    name = "numbered"
    conn_types = ("numbered",)
    fields = {"port": "extra.port", "timeout": "extra.timeout", "label": "extra.label"}
    int_fields = ("port", "timeout")

    def transform_timeout(self, value: int | None) -> int | None:
        return None if value is None else value * 1000


def _numbered(extra: dict) -> dict:
    conn = SimpleNamespace(conn_type="numbered", extra_dejson=extra)
    return _NumberedMapping(conn, "numbered_conn").values().credentials


def test_int_fields_turn_text_into_numbers_before_the_field_hook():
    assert _numbered({"port": "5439", "timeout": "3", "label": "7"}) == {
        "port": 5439,
        "timeout": 3000,
        "label": "7",
    }


def test_unset_int_fields_stay_unset():
    assert _numbered({"label": "x"}) == {"label": "x"}
