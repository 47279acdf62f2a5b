"""``google_cloud_platform`` connections -> dlt ``bigquery``: key JSON, key file path, ADC."""

from __future__ import annotations

import json

import pytest
from support.secrets import assert_masked, driver_installed

from airflow_dlt_provider import _compat
from airflow_dlt_provider.connections import destination_from_connection, map_connection
from airflow_dlt_provider.connections.bigquery import (
    BigQueryDefaultMapping,
    BigQueryKeyfileJsonMapping,
    BigQueryKeyfilePathMapping,
)
from airflow_dlt_provider.exceptions import ConnectionMappingError, MissingExtraError

PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7secretline2\n-----END PRIVATE KEY-----\n"
KEY_INFO = {
    "type": "service_account",
    "project_id": "key-project",
    "private_key_id": "0123456789abcdef0123",
    "private_key": PRIVATE_KEY,
    "client_email": "loader@key-project.iam.gserviceaccount.com",
    "token_uri": "https://oauth2.googleapis.com/token",
}


def _key_lines() -> list[str]:
    return PRIVATE_KEY.splitlines()[1:-1]


def test_keyfile_json_in_extra(make_conn):
    conn_id = make_conn(
        "google_cloud_platform", extra={"keyfile_dict": json.dumps(KEY_INFO), "location": "EU"}
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is BigQueryKeyfileJsonMapping and mapped.destination == "bigquery"
    credentials = mapped.credentials
    assert credentials.client_email == KEY_INFO["client_email"]
    assert credentials.project_id == "key-project"
    assert credentials.private_key == PRIVATE_KEY
    assert mapped.kwargs["location"] == "EU"
    assert_masked(*_key_lines(), KEY_INFO["private_key_id"])
    assert "MIIEvQ" not in str(_compat.redact(json.dumps(KEY_INFO)))


def test_keyfile_path_is_read_at_execute_time(make_conn, tmp_path):
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(KEY_INFO))
    conn_id = make_conn(
        "google_cloud_platform",
        extra={"extra__google_cloud_platform__key_path": str(key_file), "project": "other-project"},
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is BigQueryKeyfilePathMapping
    assert mapped.credentials.client_email == KEY_INFO["client_email"]
    assert mapped.credentials.project_id == "other-project"  # the connection's project overrides the key's
    assert_masked(*_key_lines())


def test_unreadable_key_file_names_path_and_connection(make_conn, tmp_path):
    conn_id = make_conn("google_cloud_platform", extra={"key_path": str(tmp_path / "missing.json")})
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*missing.json"):
        map_connection(conn_id)


def test_keyfile_that_is_not_json_is_an_error_without_its_content(make_conn):
    conn_id = make_conn("google_cloud_platform", extra={"keyfile_dict": "not-json-secret-material"})
    with pytest.raises(ConnectionMappingError) as error:
        map_connection(conn_id)
    assert "not-json-secret-material" not in str(error.value)


def test_application_default_credentials(make_conn):
    mapped = map_connection(make_conn("google_cloud_platform", extra={"project": "adc-project"}))
    assert mapped.mapping is BigQueryDefaultMapping
    assert mapped.credentials.project_id == "adc-project"
    assert mapped.credentials.private_key is None


@pytest.mark.skipif(driver_installed("google.cloud.bigquery"), reason="google-cloud-bigquery is installed")
def test_missing_driver_names_the_extra(make_conn):
    with pytest.raises(MissingExtraError, match=r"airflow-dlt-provider\[bigquery\]"):
        destination_from_connection(make_conn("google_cloud_platform", extra={"project": "p"}))


def test_only_key_material_is_masked_not_every_key_value(make_conn):
    map_connection(make_conn("google_cloud_platform", extra={"keyfile_dict": KEY_INFO}))
    assert _compat.redact("type service_account for loader@key-project.iam.gserviceaccount.com") == (
        "type service_account for loader@key-project.iam.gserviceaccount.com"
    )
    assert_masked(*_key_lines())


def test_one_mapping_per_auth_method_named_after_it():
    mappings = (BigQueryKeyfileJsonMapping, BigQueryKeyfilePathMapping, BigQueryDefaultMapping)
    assert [m.name for m in mappings] == ["bigquery_keyfile_json", "bigquery_keyfile_path", "bigquery_adc"]
    assert [m.__name__ for m in mappings] == [
        "BigQueryKeyfileJsonMapping",
        "BigQueryKeyfilePathMapping",
        "BigQueryDefaultMapping",
    ]
    assert {m.__module__ for m in mappings} == {"airflow_dlt_provider.connections.bigquery"}
    assert {m.destination for m in mappings} == {"bigquery"}
