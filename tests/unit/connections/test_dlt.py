"""The generic ``dlt`` connection type: destination name + dlt credentials in ``extra``; ``DltHook``."""

from __future__ import annotations

import json

import dlt
import pytest
from support.secrets import HARD_PASSWORD, assert_masked

from airflow_dlt_provider.connections import destination_from_connection, map_connection
from airflow_dlt_provider.exceptions import ConnectionMappingError
from airflow_dlt_provider.hooks.dlt import DltHook


def test_standard_fields_merge_and_secrets_are_masked(make_conn):
    conn_id = make_conn(
        "dlt",
        host="pg.example.com",
        login="loader",
        password=HARD_PASSWORD,
        schema="dwh",
        extra={
            "destination": "postgres",
            "credentials": json.dumps({"port": 6432, "api_token": "tok-abcdef-123"}),
        },
    )
    mapped = map_connection(conn_id)
    assert mapped.destination == "postgres"
    assert mapped.credentials == {
        "port": 6432,
        "api_token": "tok-abcdef-123",
        "host": "pg.example.com",
        "username": "loader",
        "password": HARD_PASSWORD,
        "database": "dwh",
    }
    assert_masked(HARD_PASSWORD, "tok-abcdef-123")


def test_connection_string_credentials_and_source(make_conn):
    dsn = "postgresql://loader:Sec%40ret-pw-77@pg:5432/dwh"
    conn_id = make_conn("dlt", extra={"destination": "postgres", "credentials": dsn})
    factory = destination_from_connection(conn_id)
    assert isinstance(factory, dlt.destinations.postgres)
    assert_masked("Sec@ret-pw-77", dsn)
    source = DltHook(conn_id).get_source_credentials()
    assert (source.drivername, source.password, source.host) == ("postgresql", "Sec@ret-pw-77", "pg")


def test_destination_config_and_explicit_name(make_conn, tmp_path):
    conn_id = make_conn("dlt", extra={"destination_config": {"bucket_url": str(tmp_path)}})
    factory = destination_from_connection(conn_id, "filesystem")
    assert isinstance(factory, dlt.destinations.filesystem)
    assert factory.config_params["bucket_url"] == str(tmp_path)


def test_destination_is_required_and_must_agree(make_conn):
    conn_id = make_conn("dlt", extra={"credentials": {"database": "x.duckdb"}})
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*'destination'"):
        destination_from_connection(conn_id)
    conn_id = make_conn("dlt", extra={"destination": "duckdb"})
    with pytest.raises(ConnectionMappingError, match="'duckdb'.*destination='postgres'"):
        destination_from_connection(conn_id, "postgres")
