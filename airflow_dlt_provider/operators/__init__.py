"""Operators of the dlt provider."""

from __future__ import annotations

from typing import Any

__all__ = ["DltRunOperator"]


def __getattr__(name: str) -> Any:
    if name == "DltRunOperator":
        from airflow_dlt_provider.operators.run import DltRunOperator

        return DltRunOperator
    raise AttributeError(name)
