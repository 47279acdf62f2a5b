"""``postgres`` connections -> dlt ``postgres`` destination and SQL source credentials."""

from __future__ import annotations

import dlt
import pytest
from support.secrets import HARD_PASSWORD, assert_masked, assert_not_in

from airflow_dlt_provider.connections import (
    destination_from_connection,
    map_connection,
    source_credentials_from_connection,
)
from airflow_dlt_provider.connections.postgres import PostgresMapping
from airflow_dlt_provider.exceptions import ConnectionMappingError


def _pg(make_conn, **overrides):
    fields = {
        "host": "db.example.com",
        "login": "loader",
        "password": HARD_PASSWORD,
        "port": 6543,
        "schema": "warehouse",
        "extra": {"sslmode": "require", "connect_timeout": "7"},
    }
    fields.update(overrides)
    return make_conn("postgres", **fields)


def test_fields_are_mapped_to_dlt_credentials(make_conn):
    mapped = map_connection(_pg(make_conn))
    assert mapped.mapping is PostgresMapping
    assert mapped.destination == "postgres"
    credentials = mapped.credentials
    assert (credentials.host, credentials.port, credentials.username, credentials.database) == (
        "db.example.com",
        6543,
        "loader",
        "warehouse",
    )
    assert credentials.password == HARD_PASSWORD
    assert credentials.connect_timeout == 7
    assert credentials.query == {"sslmode": "require"}


def test_destination_is_inferred_and_holds_the_credentials(make_conn):
    factory = destination_from_connection(_pg(make_conn))
    assert isinstance(factory, dlt.destinations.postgres)
    assert factory.config_params["credentials"].host == "db.example.com"


def test_explicit_factory_arguments_are_kept(make_conn):
    given = dlt.destinations.postgres(create_indexes=False)
    factory = destination_from_connection(_pg(make_conn), given)
    assert factory.config_params["create_indexes"] is False
    assert factory.config_params["credentials"].username == "loader"
    # a name works as well as a factory
    assert isinstance(destination_from_connection(_pg(make_conn), "postgres"), dlt.destinations.postgres)


def test_legacy_extra_key_is_a_fallback_for_the_database(make_conn):
    conn_id = _pg(make_conn, schema=None, extra={"dbname": "from_extra"})
    assert map_connection(conn_id).credentials.database == "from_extra"


def test_secrets_are_masked_in_every_form(make_conn):
    mapped = map_connection(_pg(make_conn))
    dsn = mapped.credentials.to_native_representation()
    assert_masked(HARD_PASSWORD)
    # the DSN as SQLAlchemy renders it (partly encoded on SQLAlchemy 1.4) is masked too
    assert_not_in(str(_redact(dsn)), HARD_PASSWORD)


def _redact(value):
    from airflow_dlt_provider import _compat

    return _compat.redact(value)


def test_missing_required_field_names_field_and_connection(make_conn):
    conn_id = _pg(make_conn, host=None)
    with pytest.raises(ConnectionMappingError) as error:
        map_connection(conn_id)
    message = str(error.value)
    assert "'host'" in message and conn_id in message
    assert_not_in(message, HARD_PASSWORD)


def test_destination_that_does_not_fit_is_an_error(make_conn):
    conn_id = _pg(make_conn)
    with pytest.raises(ConnectionMappingError, match="cannot be used for destination 'snowflake'") as error:
        destination_from_connection(conn_id, "snowflake")
    assert "postgres" in str(error.value)


def test_source_credentials_are_a_connection_string(make_conn):
    from dlt.common.configuration.specs import ConnectionStringCredentials

    credentials = source_credentials_from_connection(_pg(make_conn))
    assert isinstance(credentials, ConnectionStringCredentials)
    assert (
        credentials.drivername == "postgresql+psycopg2"
    )  # psycopg2 comes with the [postgres] extra; psycopg 3 does not
    # the native form round-trips the URL-unsafe password
    parsed = ConnectionStringCredentials(credentials.to_native_representation())
    assert parsed.password == HARD_PASSWORD
    assert parsed.query == {"sslmode": "require"}
    assert_masked(HARD_PASSWORD)


def test_the_dsn_psycopg2_receives_keeps_the_password(make_conn):
    """dlt connects with ``psycopg2.connect(dsn=credentials.to_native_representation())``. SQLAlchemy 1.4
    (Airflow 2) used to render ``%#&?=`` unescaped there, and psycopg2 refused the DSN."""
    from psycopg2.extensions import parse_dsn

    dsn = map_connection(_pg(make_conn)).credentials.to_native_representation()
    parsed = parse_dsn(dsn)
    assert (parsed["password"], parsed["user"], parsed["dbname"]) == (HARD_PASSWORD, "loader", "warehouse")
    assert (parsed["host"], parsed["port"], parsed["sslmode"]) == ("db.example.com", "6543", "require")


def test_dlt_uses_the_mapped_credentials_as_they_are(make_conn):
    """dlt copies unresolved credentials into its own class, which renders the DSN with SQLAlchemy again."""
    from psycopg2.extensions import parse_dsn

    destination = destination_from_connection(_pg(make_conn))
    config = destination.configuration(None, accept_partial=True)
    assert parse_dsn(config.credentials.to_native_representation())["password"] == HARD_PASSWORD
