"""A connection Airflow holds but cannot parse is reported as malformed, naming where, never its text."""

from __future__ import annotations

import json
import uuid

import pytest
from support.secrets import HARD_PASSWORD, assert_not_in

from airflow_dlt_provider.connections import destination_from_connection, source_credentials_from_connection
from airflow_dlt_provider.connections.lookup import unreadable_in
from airflow_dlt_provider.exceptions import ConnectionMappingError, ConnectionNotFoundError

BROKEN_JSON = json.dumps({"conn_type": "postgres", "host": "db.example.com", "password": HARD_PASSWORD})[:-1]
BAD_JSON_PORT = json.dumps(
    {"conn_type": "postgres", "host": "db.example.com", "port": "five4three2", "password": HARD_PASSWORD}
)
BAD_URI_PORT = "postgres://loader:Pw%40%3A%2F%25%23%26%3F%3D-x9q@db.example.com:five4three2/warehouse"


def _env_conn(monkeypatch, text: str) -> tuple[str, str]:
    conn_id = f"t_bad_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", text)
    return conn_id, f"AIRFLOW_CONN_{conn_id.upper()}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (BROKEN_JSON, "is not valid JSON (Expecting ',' delimiter at line 1, column"),
        (BAD_JSON_PORT, "has a port that is not a number"),
        (BAD_URI_PORT, "has a port that is not a number"),
    ],
    ids=["broken-json", "json-port", "uri-port"],
)
def test_malformed_env_connection_says_so_and_where(monkeypatch, text, problem):
    """Was: "Airflow connection 'x' is not defined" (Airflow swallows the parse error of a backend)."""
    conn_id, env_var = _env_conn(monkeypatch, text)
    for lookup in (destination_from_connection, source_credentials_from_connection):
        with pytest.raises(ConnectionMappingError) as error:
            lookup(conn_id)
        assert not isinstance(error.value, ConnectionNotFoundError)
        message = str(error.value)
        assert (
            f"Airflow connection {conn_id!r} is malformed: the environment variable {env_var} {problem}"
            in (message)
        )
        assert "not defined" not in message and "a connection URI" in message
        assert_not_in(message, HARD_PASSWORD)
        assert "five4three2" not in message and "db.example.com" not in message and "loader" not in message


def test_undefined_connection_is_still_not_defined():
    with pytest.raises(ConnectionNotFoundError, match="'t_never_defined_0815' is not defined"):
        destination_from_connection("t_never_defined_0815")
    assert unreadable_in("t_never_defined_0815") == []


def test_failing_secrets_backend_is_named_without_its_error_text(monkeypatch):
    from airflow_dlt_provider import _compat

    class VaultLikeBackend:
        def get_connection(self, conn_id: str):
            raise ValueError(f"cannot parse {HARD_PASSWORD}")

    monkeypatch.setattr(_compat, "secrets_backends", lambda: [VaultLikeBackend()])
    problems = unreadable_in("t_vault_conn")
    assert problems == ["the secrets backend VaultLikeBackend cannot read it (ValueError)"]
