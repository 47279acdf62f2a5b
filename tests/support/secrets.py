"""Helpers of the connection mapping tests: connections as ``AIRFLOW_CONN_<ID>`` JSON env vars.

Not a conftest.py: a second module named ``conftest`` would shadow tests/conftest.py for ``from conftest import``.
The ``make_conn`` fixture lives in tests/conftest.py.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from airflow_dlt_provider import _compat

# a password with every URL-unsafe character the issue names, long enough for Airflow's masker
HARD_PASSWORD = "Pw@:/%#&?=-x9q"


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
