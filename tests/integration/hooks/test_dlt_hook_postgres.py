"""``DltHook.test_connection`` against a throwaway PostgreSQL server."""

from __future__ import annotations

import pytest

from airflow_dlt_provider.hooks.dlt import DltHook


@pytest.mark.postgres
def test_test_connection_reaches_postgres_and_never_shows_the_password(postgres_server, make_conn):
    """The connection form's Test button: a working connection says so; a refused one says why, without
    the password."""
    import uuid

    user, dbname = f"hook_{uuid.uuid4().hex[:8]}", f"hookdb_{uuid.uuid4().hex[:8]}"
    password = "Hook-pw-@:/%#-51"
    postgres_server.create_user(user, password)
    postgres_server.create_database(dbname, owner=user)
    fields = {"host": postgres_server.host, "port": postgres_server.port, "login": user, "schema": dbname}
    good = make_conn("postgres", password=password, **fields)
    wrong_password = "Wrong-pw-@:/%#-52"
    bad = make_conn("postgres", password=wrong_password, **fields)

    assert DltHook(dlt_conn_id=good).test_connection() == (True, "connected to postgres")
    ok, message = DltHook(dlt_conn_id=bad).test_connection()
    assert not ok and "authentication failed" in message
    assert wrong_password not in message and password not in message
    assert "Wrong-pw" not in message
