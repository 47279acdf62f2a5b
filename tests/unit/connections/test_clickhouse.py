"""``clickhouse`` connections -> dlt ``clickhouse`` destination."""

from __future__ import annotations

import pytest
from support.secrets import HARD_PASSWORD, assert_masked, driver_installed

from airflow_dlt_provider.connections import destination_from_connection, map_connection
from airflow_dlt_provider.exceptions import ConnectionMappingError, MissingExtraError


def test_fields_and_transforms(make_conn):
    conn_id = make_conn(
        "clickhouse",
        host="ch.example.com",
        port=9000,
        login="loader",
        password=HARD_PASSWORD,
        schema="analytics",
        extra={"http_port": "8123", "secure": "false"},
    )
    credentials = map_connection(conn_id).credentials
    assert (credentials.host, credentials.port, credentials.http_port) == ("ch.example.com", 9000, 8123)
    assert (credentials.username, credentials.database, credentials.secure) == ("loader", "analytics", 0)
    assert credentials.password == HARD_PASSWORD
    assert_masked(HARD_PASSWORD)


def test_defaults_of_dlt_stay_when_fields_are_empty(make_conn):
    credentials = map_connection(make_conn("clickhouse", host="ch", password=HARD_PASSWORD)).credentials
    assert (credentials.username, credentials.database, credentials.port) == ("default", "default", 9440)


def test_password_is_required(make_conn):
    with pytest.raises(ConnectionMappingError, match="'password'"):
        map_connection(make_conn("clickhouse", host="ch"))


@pytest.mark.skipif(driver_installed("clickhouse_driver"), reason="clickhouse-driver is installed")
def test_missing_driver_names_the_extra(make_conn):
    with pytest.raises(MissingExtraError, match=r"airflow-dlt-provider\[clickhouse\]"):
        destination_from_connection(make_conn("clickhouse", host="ch", password=HARD_PASSWORD))
