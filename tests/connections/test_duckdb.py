"""``duckdb`` connections -> dlt ``duckdb`` destination (a file), loaded for real."""

from __future__ import annotations

import dlt
import duckdb
import pytest

from airflow_dlt_provider.connections import (
    destination_from_connection,
    map_connection,
    source_credentials_from_connection,
)
from airflow_dlt_provider.connections.duckdb import DuckDbMapping
from airflow_dlt_provider.exceptions import ConnectionMappingError


def test_loads_into_the_file_named_by_the_connection(make_conn, tmp_path):
    db_file = tmp_path / "warehouse.duckdb"
    conn_id = make_conn("duckdb", host=str(db_file))
    pipeline = dlt.pipeline(
        "conn_duckdb", pipelines_dir=str(tmp_path / "p"), destination=destination_from_connection(conn_id)
    )
    pipeline.run([{"id": 1}, {"id": 2}, {"id": 3}], table_name="numbers", dataset_name="raw")
    with duckdb.connect(str(db_file), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.numbers").fetchone()[0] == 3


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
