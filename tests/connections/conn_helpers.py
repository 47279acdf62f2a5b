"""Helpers of the connection mapping tests: connections as ``AIRFLOW_CONN_<ID>`` JSON env vars."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from airflow_dlt_provider import _compat

# a password with every URL-unsafe character the issue names, long enough for Airflow's masker
HARD_PASSWORD = "Pw@:/%#&?=-x9q"


@pytest.fixture
def make_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define a connection through the environment (JSON form); returns its (unique) conn id."""

    def make(conn_type: str, *, extra: dict[str, Any] | None = None, **fields: Any) -> str:
        conn_id = f"t_{conn_type}_{uuid.uuid4().hex[:8]}"
        payload: dict[str, Any] = {"conn_type": conn_type, **fields}
        if extra is not None:
            payload["extra"] = extra
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))
        return conn_id

    return make


def url_forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote(secret), quote_plus(secret)]


def assert_masked(*secrets: str) -> None:
    """Airflow's masker (the one task logs and rendered fields go through) hides every form of each secret."""
    for secret in secrets:
        for form in url_forms(secret):
            line = f"before {form} after"
            assert _compat.redact(line) == "before *** after", form


def assert_not_in(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in url_forms(secret):
            assert form not in text


def driver_installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
