"""``aws`` connections -> dlt ``athena`` destination."""

from __future__ import annotations

from support.secrets import HARD_PASSWORD, assert_masked

from airflow_dlt_provider.connections import map_connection
from airflow_dlt_provider.connections.athena import AthenaMapping

SESSION_TOKEN = "FwoGZXIvYXdzEBYaDSessionToken123"


def test_fields_and_config(make_conn):
    conn_id = make_conn(
        "aws",
        login="AKIAEXAMPLE",
        password=HARD_PASSWORD,
        extra={
            "region_name": "eu-central-1",
            "aws_session_token": SESSION_TOKEN,
            "query_result_bucket": "s3://results/",
            "work_group": "etl",
        },
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is AthenaMapping and mapped.destination == "athena"
    credentials = mapped.credentials
    assert (credentials.aws_access_key_id, credentials.region_name) == ("AKIAEXAMPLE", "eu-central-1")
    assert credentials.aws_secret_access_key == HARD_PASSWORD
    assert credentials.aws_session_token == SESSION_TOKEN
    assert mapped.kwargs["query_result_bucket"] == "s3://results/"
    assert mapped.kwargs["athena_work_group"] == "etl"  # legacy key
    assert_masked(HARD_PASSWORD, SESSION_TOKEN)


def test_profile_without_keys(make_conn):
    conn_id = make_conn("aws", extra={"profile_name": "etl", "query_result_bucket": "s3://r/"})
    credentials = map_connection(conn_id).credentials
    assert credentials.profile_name == "etl" and credentials.aws_access_key_id is None
