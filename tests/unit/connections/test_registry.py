"""Picking a mapping: by connection type, by present fields; errors for unknown ids and types."""

from __future__ import annotations

import pytest
from support.secrets import HARD_PASSWORD, assert_not_in

from airflow_dlt_provider.connections import (
    destination_from_connection,
    map_connection,
    source_credentials_from_connection,
)
from airflow_dlt_provider.connections.registry import MAPPINGS, destination_name, supported_conn_types
from airflow_dlt_provider.exceptions import ConnectionMappingError, ConnectionNotFoundError


def test_missing_connection_names_its_id():
    with pytest.raises(ConnectionNotFoundError, match="'no_such_conn_4711' is not defined"):
        destination_from_connection("no_such_conn_4711")
    with pytest.raises(ConnectionNotFoundError, match="no_such_conn_4711"):
        source_credentials_from_connection("no_such_conn_4711")


def test_unmapped_type_lists_the_supported_types(make_conn):
    conn_id = make_conn("sftp", host="h", login="u", password=HARD_PASSWORD)
    with pytest.raises(ConnectionMappingError) as error:
        destination_from_connection(conn_id)
    message = str(error.value)
    assert "'sftp'" in message and conn_id in message
    for conn_type in ("postgres", "snowflake", "google_cloud_platform", "aws", "wasb", "dlt"):
        assert conn_type in message
    assert_not_in(message, HARD_PASSWORD)


def test_every_mapping_is_declared_completely():
    names = [m.name for m in MAPPINGS]
    assert len(names) == len(set(names))
    for mapping in MAPPINGS:
        assert mapping.conn_types and mapping.auth and mapping.name
        declared = set(mapping.all_fields())
        assert set(mapping.required) <= declared, mapping.name
        assert set(mapping.secret_fields) <= declared, mapping.name
        if mapping.destination and mapping.name != "dlt":
            assert mapping.pip_extra, mapping.name
            # the dlt class exists under that name, or is the destination spec's (no driver needed)
            assert isinstance(mapping.credentials_type(), type), mapping.name
    assert {"postgres", "redshift", "snowflake", "mssql", "databricks", "clickhouse", "duckdb"} <= set(
        supported_conn_types()
    )


def test_destination_names_from_strings_and_factories():
    import dlt

    assert destination_name("postgres") == "postgres"
    assert destination_name("dlt.destinations.duckdb") == "duckdb"
    assert destination_name(dlt.destinations.filesystem(bucket_url="/tmp")) == "filesystem"
    with pytest.raises(ConnectionMappingError, match="neither a dlt destination name"):
        destination_name(42)


def test_type_feeding_several_destinations_needs_a_hint(make_conn):
    conn_id = make_conn("aws", login="AKIAEXAMPLE", password=HARD_PASSWORD)
    with pytest.raises(ConnectionMappingError) as error:
        map_connection(conn_id)
    message = str(error.value)
    assert "athena" in message and "filesystem" in message and "extra.bucket_url" in message
    # naming the destination picks the mapping; Athena then asks for its own required field
    with pytest.raises(ConnectionMappingError, match="query_result_bucket"):
        map_connection(conn_id, "athena")


def test_missing_source_connection_names_the_factory_argument():
    from airflow_dlt_provider.connections import source_credentials_from_connections

    expected = "source_conn_ids['credentials']: Airflow connection 'no_such_db_4711' is not defined"
    with pytest.raises(ConnectionNotFoundError) as error:
        source_credentials_from_connections({"credentials": "no_such_db_4711"})
    assert str(error.value).startswith(expected)
    with pytest.raises(ConnectionNotFoundError) as error:
        source_credentials_from_connection("no_such_db_4711", argument="credentials")
    assert str(error.value).startswith(expected)


def test_unusable_source_connection_names_the_factory_argument(make_conn):
    conn_id = make_conn("sftp", host="h", login="u", password=HARD_PASSWORD)
    with pytest.raises(ConnectionMappingError) as error:
        source_credentials_from_connection(conn_id, argument="api_key")
    assert str(error.value).startswith(f"source_conn_ids['api_key']: Airflow connection {conn_id!r}")
    assert_not_in(str(error.value), HARD_PASSWORD)
