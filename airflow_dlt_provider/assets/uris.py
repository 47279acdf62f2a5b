"""Logical asset URIs of tables, known at parse time: ``dlt://<target>/<dataset>/<table>`` (see the package doc)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

__all__ = ["table_asset", "logical_uri", "destination_target", "alias_name"]

LOGICAL_SCHEME = "dlt"
ALIAS_PREFIX = "dlt:"


# ---------------------------------------------------------------- logical URIs (parse time)


def uri_part(value: str) -> str:
    """One URI component: ASCII only, no ``/ : @ ? #`` (so nothing reads as a host, user or query)."""
    return quote(str(value), safe="-_.~")


_LOWER_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_PLAIN_IDENTIFIER_CHARS = _LOWER_LETTERS | frozenset("0123456789_")  # [a-z][a-z0-9_]{0,62}, without a regex


def logical_uri(target: str, dataset_name: str, table: str) -> str:
    """``dlt://<target>/<dataset>/<table>``: the stable URI of a table, known at parse time."""
    return f"{LOGICAL_SCHEME}://{uri_part(target)}/{uri_part(dataset_name)}/{uri_part(table)}"


def destination_target(destination_conn_id: str | None, destination: Any, pipeline_name: str) -> str:
    """The ``<target>`` part of logical URIs: the connection id, else the destination's name."""
    if destination_conn_id:
        return destination_conn_id
    name = destination if isinstance(destination, str) else getattr(destination, "destination_name", None)
    if destination is None or name == "duckdb":
        return f"duckdb.{pipeline_name}"
    return str(name or type(destination).__name__)


def alias_name(pipeline_name: str) -> str:
    """Name of the asset alias through which tables found at run time reach Airflow."""
    return f"{ALIAS_PREFIX}{pipeline_name}"


def table_asset(
    destination_conn_id: str, dataset_name: str, table: str, *, pipeline_name: str | None = None
) -> Any:
    """The asset a consumer DAG schedules on: ``table_asset("warehouse", "raw_github", "issues")``.

    For the embedded DuckDB default pass ``destination_conn_id=None`` and the ``pipeline_name``.

    :param destination_conn_id: the ``destination_conn_id`` of the producing tasks (``None``: DuckDB default).
    :param dataset_name: the ``dataset_name`` of the producing tasks.
    :param table: the table name as dlt names it in the destination (child tables: ``issues__labels``).
    :param pipeline_name: the producing pipeline; needed only for the DuckDB default (one file per pipeline).
    """
    from airflow_dlt_provider._compat import Asset

    target = destination_target(destination_conn_id, None, pipeline_name or "")
    if not destination_conn_id and not pipeline_name:
        raise ValueError(
            "table_asset needs a destination_conn_id, or the pipeline_name for the DuckDB default"
        )
    return Asset(logical_uri(target, dataset_name, table))


def is_templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def is_plain_identifier(name: str | None) -> bool:
    """A name dlt keeps as it is at the destination, so it can be declared before the run.

    Other names (``None``: dlt's configuration decides; templated; ``My-Data``: dlt normalises it) reach
    Airflow through the alias once the run knows what dlt used.
    """
    return (
        isinstance(name, str)
        and 0 < len(name) <= 63
        and name[0] in _LOWER_LETTERS
        and _PLAIN_IDENTIFIER_CHARS.issuperset(name)
    )
