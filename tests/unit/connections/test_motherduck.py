"""``motherduck`` connections (or ``duckdb`` ones with a token) -> dlt ``motherduck`` destination."""

from __future__ import annotations

import pytest
from support.secrets import assert_masked

from airflow_dlt_provider.connections import map_connection
from airflow_dlt_provider.connections.duckdb import DuckDbMapping
from airflow_dlt_provider.connections.motherduck import MotherDuckMapping
from airflow_dlt_provider.exceptions import ConnectionMappingError

TOKEN = "md_token_eyJhbGciOiJIUzI1NiJ9.secret"


def test_duckdb_connection_with_token_becomes_motherduck(make_conn):
    conn_id = make_conn("duckdb", host="md:analytics", password=TOKEN)
    mapped = map_connection(conn_id)
    assert mapped.mapping is MotherDuckMapping and mapped.destination == "motherduck"
    assert mapped.credentials.database == "analytics"  # `md:` prefix removed
    assert mapped.credentials.password == TOKEN
    assert_masked(TOKEN)
    # naming duckdb explicitly keeps the local-file mapping
    assert map_connection(conn_id, "duckdb").mapping is DuckDbMapping


def test_motherduck_type_token_in_extra(make_conn):
    conn_id = make_conn("motherduck", schema="db1", extra={"motherduck_token": TOKEN})
    mapped = map_connection(conn_id)
    assert (mapped.credentials.database, mapped.credentials.password) == ("db1", TOKEN)


def test_motherduck_without_token_is_not_claimed(make_conn):
    conn_id = make_conn("motherduck", schema="db1")
    with pytest.raises(ConnectionMappingError, match="password"):
        map_connection(conn_id)
