"""Why Airflow could not hand over a connection it holds: which backend failed to parse it, and how.

Airflow tries each secrets backend in turn and, when one raises (broken JSON in ``AIRFLOW_CONN_X``, a port
that is not a number), logs it at debug level and reports the connection as not defined. Asked again here,
the backends tell the two apart. No message built here contains the connection's text or a value of it.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

from airflow_dlt_provider import _compat

ENV_PREFIX = "AIRFLOW_CONN_"


def env_var_name(conn_id: str) -> str:
    """The environment variable Airflow reads connection ``conn_id`` from."""
    return f"{ENV_PREFIX}{conn_id.upper()}"


def unreadable_in(conn_id: str) -> list[str]:
    """One line per secrets backend that holds ``conn_id`` but cannot parse it (none: it is not defined)."""
    problems = []
    for backend in _backends():
        try:
            backend.get_connection(conn_id=conn_id)
        except Exception as error:
            problems.append(_describe(backend, conn_id, error))
    return problems


def _backends() -> list[Any]:
    try:
        return _compat.secrets_backends()
    except Exception:  # no backend list: fall back to the environment variable alone
        return []


def _describe(backend: Any, conn_id: str, error: BaseException) -> str:
    if type(backend).__name__ == "EnvironmentVariablesBackend":
        text = os.environ.get(env_var_name(conn_id), "")
        return f"the environment variable {env_var_name(conn_id)} {_env_problem(text, error)}"
    return f"the secrets backend {type(backend).__name__} cannot read it ({type(error).__name__})"


def _env_problem(text: str, error: BaseException) -> str:
    """What is wrong with the text of ``AIRFLOW_CONN_X`` (never the text or a value in it)."""
    if isinstance(error, json.JSONDecodeError):
        return f"is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
    if not _port_is_a_number(text):
        return "has a port that is not a number"
    return f"cannot be parsed as a connection ({type(error).__name__})"


def _port_is_a_number(text: str) -> bool:
    try:
        if text.lstrip().startswith("{"):
            port = json.loads(text).get("port")
            if port not in (None, ""):
                int(str(port))
        else:
            urlsplit(text.strip()).port  # noqa: B018  # raises ValueError for a port that is no number
    except (ValueError, TypeError, AttributeError):
        return False
    return True
