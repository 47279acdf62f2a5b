"""``mssql`` connections -> dlt ``mssql`` destination and pyodbc SQL source credentials."""

from __future__ import annotations

import pytest
from support.secrets import HARD_PASSWORD, assert_masked

from airflow_dlt_provider.connections import map_connection, source_credentials_from_connection
from airflow_dlt_provider.exceptions import ConnectionMappingError


def test_fields_driver_and_query(make_conn):
    conn_id = make_conn(
        "mssql",
        host="sql.example.com",
        login="sa",
        password=HARD_PASSWORD,
        schema="dwh",
        extra={"driver": "ODBC Driver 18 for SQL Server", "TrustServerCertificate": "yes"},
    )
    mapped = map_connection(conn_id)
    credentials = mapped.credentials
    assert mapped.destination == "mssql"
    assert (credentials.host, credentials.port, credentials.database) == ("sql.example.com", 1433, "dwh")
    assert credentials.driver == "ODBC Driver 18 for SQL Server"
    assert credentials.query == {"TrustServerCertificate": "yes"}
    assert_masked(HARD_PASSWORD)
    source = source_credentials_from_connection(conn_id)
    assert source.drivername == "mssql+pyodbc" and source.password == HARD_PASSWORD


def test_database_is_required(make_conn):
    conn_id = make_conn("mssql", host="sql.example.com", login="sa", password=HARD_PASSWORD)
    with pytest.raises(ConnectionMappingError, match="'database'.*schema or extra.database"):
        map_connection(conn_id)
