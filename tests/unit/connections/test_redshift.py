"""``redshift`` connections -> dlt ``redshift`` destination."""

from __future__ import annotations

import pytest
from support.secrets import HARD_PASSWORD, assert_masked, assert_not_in

from airflow_dlt_provider.connections import map_connection, source_credentials_from_connection
from airflow_dlt_provider.connections.redshift import RedshiftMapping
from airflow_dlt_provider.exceptions import ConnectionMappingError


def test_fields_defaults_and_config(make_conn):
    conn_id = make_conn(
        "redshift",
        host="cluster.abc.eu-west-1.redshift.amazonaws.com",
        login="loader",
        password=HARD_PASSWORD,
        schema="dev",
        extra={"iam_role": "arn:aws:iam::1:role/copy"},
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is RedshiftMapping and mapped.destination == "redshift"
    credentials = mapped.credentials
    assert credentials.port == 5439  # dlt's Redshift default when the connection has no port
    assert (credentials.username, credentials.database) == ("loader", "dev")
    assert credentials.password == HARD_PASSWORD
    assert mapped.kwargs["staging_iam_role"] == "arn:aws:iam::1:role/copy"  # legacy key fallback
    assert_masked(HARD_PASSWORD)
    assert source_credentials_from_connection(conn_id).drivername == "postgresql+psycopg2"


def test_password_is_required(make_conn):
    conn_id = make_conn("redshift", host="h.example.com", login="loader", schema="dev")
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*'password'") as error:
        map_connection(conn_id)
    assert_not_in(str(error.value), HARD_PASSWORD)
