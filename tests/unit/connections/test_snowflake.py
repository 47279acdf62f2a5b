"""``snowflake`` connections -> dlt ``snowflake`` destination: password and key-pair auth."""

from __future__ import annotations

import base64

import pytest
from support.secrets import HARD_PASSWORD, assert_masked, driver_installed

from airflow_dlt_provider import _compat
from airflow_dlt_provider.connections import destination_from_connection, map_connection
from airflow_dlt_provider.connections.snowflake import SnowflakeKeyPairMapping, SnowflakePasswordMapping
from airflow_dlt_provider.exceptions import ConnectionMappingError, MissingExtraError


def _private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_password_auth_fields_and_region_transform(make_conn):
    conn_id = make_conn(
        "snowflake",
        login="LOADER",
        password=HARD_PASSWORD,
        schema="RAW",
        extra={
            "account": "ab12345",
            "region": "eu-west-1",
            "database": "DWH",
            "warehouse": "WH",
            "role": "R",
        },
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is SnowflakePasswordMapping
    credentials = mapped.credentials
    assert credentials.host == "ab12345.eu-west-1"
    assert (credentials.username, credentials.database, credentials.warehouse, credentials.role) == (
        "LOADER",
        "DWH",
        "WH",
        "R",
    )
    assert credentials.password == HARD_PASSWORD
    assert_masked(HARD_PASSWORD)


def test_legacy_extra_names(make_conn):
    conn_id = make_conn(
        "snowflake",
        login="L",
        password=HARD_PASSWORD,
        extra={"extra__snowflake__account": "org-acct", "extra__snowflake__database": "DB"},
    )
    credentials = map_connection(conn_id).credentials
    assert (credentials.host, credentials.database) == ("org-acct", "DB")


def test_key_pair_auth_masks_the_key_material(make_conn):
    pem = _private_key_pem()
    encoded = base64.b64encode(pem.encode()).decode()  # the Snowflake provider stores it base64-encoded
    passphrase = "key-passphrase-1234"
    conn_id = make_conn(
        "snowflake",
        login="LOADER",
        password=passphrase,
        extra={"account": "ab12345", "database": "DWH", "private_key_content": encoded},
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is SnowflakeKeyPairMapping
    credentials = mapped.credentials
    assert credentials.private_key == encoded
    assert credentials.private_key_passphrase == passphrase
    assert credentials.password is None
    assert_masked(passphrase, encoded)
    redacted_pem = str(_compat.redact(pem))
    assert all(line not in redacted_pem for line in pem.splitlines()[1:-1])


def test_key_file_path(make_conn):
    conn_id = make_conn(
        "snowflake", login="L", extra={"account": "a", "database": "D", "private_key_file": "/keys/rsa.p8"}
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is SnowflakeKeyPairMapping
    assert mapped.credentials.private_key_path == "/keys/rsa.p8"


def test_account_is_required(make_conn):
    conn_id = make_conn("snowflake", login="L", password=HARD_PASSWORD, extra={"database": "D"})
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*'host'.*extra.account"):
        map_connection(conn_id)


@pytest.mark.skipif(driver_installed("snowflake.connector"), reason="snowflake-connector-python is installed")
def test_missing_driver_names_the_extra(make_conn):
    conn_id = make_conn(
        "snowflake", login="L", password=HARD_PASSWORD, extra={"account": "a", "database": "D"}
    )
    with pytest.raises(MissingExtraError, match=r"pip install airflow-dlt-provider\[snowflake\]"):
        destination_from_connection(conn_id)
