"""``duckdb`` connections -> dlt ``duckdb`` destination (a file), loaded for real."""

from __future__ import annotations

import pytest

from airflow_dlt_provider.connections import (
    map_connection,
    source_credentials_from_connection,
)
from airflow_dlt_provider.connections.duckdb import DuckDbMapping
from airflow_dlt_provider.exceptions import ConnectionMappingError


def test_path_fallbacks_and_source_credentials(make_conn, tmp_path):
    conn_id = make_conn("duckdb", extra={"path": str(tmp_path / "x.duckdb")})
    mapped = map_connection(conn_id)
    assert mapped.mapping is DuckDbMapping
    assert mapped.credentials.database == str(tmp_path / "x.duckdb")
    assert source_credentials_from_connection(conn_id).drivername == "duckdb"


def test_path_is_required(make_conn):
    conn_id = make_conn("duckdb")
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*'database'"):
        map_connection(conn_id)
