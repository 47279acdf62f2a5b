"""``http`` connections -> the token a REST source factory takes (sources only)."""

from __future__ import annotations

import pytest
from support.secrets import assert_masked

from airflow_dlt_provider.connections import destination_from_connection, source_credentials_from_connection
from airflow_dlt_provider.exceptions import ConnectionMappingError

TOKEN = "ghp_0123456789abcdefTOKEN"


def test_token_from_password_or_extra(make_conn):
    assert (
        source_credentials_from_connection(make_conn("http", host="api.github.com", password=TOKEN)) == TOKEN
    )
    assert source_credentials_from_connection(make_conn("http", extra={"api_key": TOKEN})) == TOKEN
    assert_masked(TOKEN)


def test_http_is_not_a_destination_and_the_error_lists_the_types_that_are(make_conn):
    from airflow_dlt_provider.connections.registry import MAPPINGS

    with pytest.raises(ConnectionMappingError, match="sources only") as error:
        destination_from_connection(make_conn("http", password=TOKEN))
    message = str(error.value)
    listed = message.split("can be a destination: ", 1)[1].split(", ")
    expected = sorted({t for m in MAPPINGS if m.destination for t in m.conn_types})
    assert listed == expected
    assert {"postgres", "snowflake", "duckdb", "aws", "dlt"} <= set(listed)
    assert "http" not in listed and "https" not in listed
    assert TOKEN not in message


def test_token_is_required(make_conn):
    conn_id = make_conn("http", host="api.example.com")
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*'token'"):
        source_credentials_from_connection(conn_id)
