"""``google_cloud_platform`` connections -> dlt ``filesystem`` on GCS."""

from __future__ import annotations

import json

import pytest
from support.secrets import assert_masked
from test_bigquery import KEY_INFO, PRIVATE_KEY

from airflow_dlt_provider.connections import map_connection
from airflow_dlt_provider.connections.filesystem_gcs import (
    FilesystemGcsDefaultMapping,
    FilesystemGcsKeyfileJsonMapping,
)
from airflow_dlt_provider.exceptions import ConnectionMappingError


def test_bucket_url_infers_the_filesystem_destination(make_conn):
    conn_id = make_conn(
        "google_cloud_platform", extra={"keyfile_dict": KEY_INFO, "bucket_url": "gs://bucket/raw"}
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is FilesystemGcsKeyfileJsonMapping and mapped.destination == "filesystem"
    assert mapped.kwargs["bucket_url"] == "gs://bucket/raw"
    assert mapped.credentials.client_email == KEY_INFO["client_email"]
    assert_masked(*PRIVATE_KEY.splitlines()[1:-1])


def test_named_destination_without_bucket_is_an_error(make_conn):
    conn_id = make_conn("google_cloud_platform", extra={"keyfile_dict": json.dumps(KEY_INFO)})
    assert map_connection(conn_id).destination == "bigquery"
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*'bucket_url'"):
        map_connection(conn_id, "filesystem")


def test_adc(make_conn):
    mapped = map_connection(
        make_conn("google_cloud_platform", extra={"bucket_url": "gs://b", "project": "p"})
    )
    assert mapped.mapping is FilesystemGcsDefaultMapping
    assert mapped.credentials.project_id == "p"
