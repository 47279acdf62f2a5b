"""``aws`` connections -> dlt ``filesystem`` destination on S3."""

from __future__ import annotations

import pytest
from support.secrets import HARD_PASSWORD, assert_masked, driver_installed

from airflow_dlt_provider.connections import destination_from_connection, map_connection
from airflow_dlt_provider.connections.filesystem_s3 import FilesystemS3Mapping
from airflow_dlt_provider.exceptions import MissingExtraError


def _conn(make_conn):
    return make_conn(
        "aws",
        login="AKIAEXAMPLE",
        password=HARD_PASSWORD,
        extra={"bucket_url": "s3://lake/raw", "endpoint_url": "http://minio:9000", "region": "us-east-1"},
    )


def test_fields_and_bucket(make_conn):
    mapped = map_connection(_conn(make_conn))
    assert mapped.mapping is FilesystemS3Mapping and mapped.destination == "filesystem"
    assert mapped.kwargs["bucket_url"] == "s3://lake/raw"
    credentials = mapped.credentials
    assert credentials.endpoint_url == "http://minio:9000"
    assert credentials.region_name == "us-east-1"  # legacy key `region`
    assert credentials.aws_secret_access_key == HARD_PASSWORD
    assert_masked(HARD_PASSWORD)


@pytest.mark.skipif(driver_installed("s3fs"), reason="s3fs is installed")
def test_missing_driver_names_the_extra(make_conn):
    with pytest.raises(MissingExtraError, match=r"airflow-dlt-provider\[s3\]"):
        destination_from_connection(_conn(make_conn))
