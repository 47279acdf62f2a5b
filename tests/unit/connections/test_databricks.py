"""``databricks`` connections -> dlt ``databricks`` destination (personal access token)."""

from __future__ import annotations

import pytest
from support.secrets import assert_masked, driver_installed

from airflow_dlt_provider.connections import destination_from_connection, map_connection
from airflow_dlt_provider.exceptions import ConnectionMappingError, MissingExtraError

TOKEN = "dapi0123456789abcdef-token"


def test_fields_host_transform_and_token_fallback(make_conn):
    conn_id = make_conn(
        "databricks",
        host="https://adb-123.4.azuredatabricks.net/",
        extra={"token": TOKEN, "http_path": "/sql/1.0/warehouses/abc", "catalog": "main"},
    )
    credentials = map_connection(conn_id).credentials
    assert credentials.server_hostname == "adb-123.4.azuredatabricks.net"
    assert credentials.http_path == "/sql/1.0/warehouses/abc"
    assert credentials.access_token == TOKEN
    assert credentials.catalog == "main"
    assert_masked(TOKEN)


def test_password_wins_over_extra_token(make_conn):
    conn_id = make_conn(
        "databricks",
        host="adb-1.azuredatabricks.net",
        password=TOKEN,
        schema="cat",
        extra={"token": "other-token-value", "http_path": "/p"},
    )
    credentials = map_connection(conn_id).credentials
    assert credentials.access_token == TOKEN and credentials.catalog == "cat"


def test_http_path_is_required(make_conn):
    conn_id = make_conn("databricks", host="adb-1.azuredatabricks.net", password=TOKEN, schema="c")
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*'http_path'"):
        map_connection(conn_id)


@pytest.mark.skipif(driver_installed("databricks.sql"), reason="databricks-sql-connector is installed")
def test_missing_driver_names_the_extra(make_conn):
    conn_id = make_conn("databricks", host="h", password=TOKEN, schema="c", extra={"http_path": "/p"})
    with pytest.raises(MissingExtraError, match=r"pip install airflow-dlt-provider\[databricks\]"):
        destination_from_connection(conn_id)
