"""Credentials mapped from Airflow connections load rows with dlt (DuckDB), not only build the right objects."""

from __future__ import annotations

import dlt
import duckdb

from airflow_dlt_provider.connections import destination_from_connection
from airflow_dlt_provider.hooks.dlt import DltHook


def test_any_destination_with_dict_credentials_loads(make_conn, tmp_path):
    db_file = tmp_path / "generic.duckdb"
    conn_id = make_conn("dlt", extra={"destination": "duckdb", "credentials": {"database": str(db_file)}})
    destination = DltHook(conn_id).get_destination()
    assert isinstance(destination, dlt.destinations.duckdb)
    pipeline = dlt.pipeline("conn_generic", pipelines_dir=str(tmp_path / "p"), destination=destination)
    pipeline.run([{"n": 1}, {"n": 2}], table_name="t", dataset_name="raw")
    with duckdb.connect(str(db_file), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.t").fetchone()[0] == 2


def test_loads_into_the_file_named_by_the_connection(make_conn, tmp_path):
    db_file = tmp_path / "warehouse.duckdb"
    conn_id = make_conn("duckdb", host=str(db_file))
    pipeline = dlt.pipeline(
        "conn_duckdb", pipelines_dir=str(tmp_path / "p"), destination=destination_from_connection(conn_id)
    )
    pipeline.run([{"id": 1}, {"id": 2}, {"id": 3}], table_name="numbers", dataset_name="raw")
    with duckdb.connect(str(db_file), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.numbers").fetchone()[0] == 3
