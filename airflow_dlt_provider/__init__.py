"""Apache Airflow provider for dlt.

Public names resolve lazily so that ``import airflow_dlt_provider`` (and Airflow's provider discovery)
imports neither dlt nor Airflow operators.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC_NAMES: dict[str, str] = {
    "DltRunOperator": "airflow_dlt_provider.operators.run",
    "DltTaskGroup": "airflow_dlt_provider.authoring.task_group",
    "DltHook": "airflow_dlt_provider.hooks.dlt",
    "DltProviderError": "airflow_dlt_provider.exceptions",
    "table_asset": "airflow_dlt_provider.assets.uris",
}

__all__ = ["__version__", "DltRunOperator", "DltTaskGroup", "DltHook", "DltProviderError", "table_asset"]

if TYPE_CHECKING:
    from airflow_dlt_provider.assets.uris import table_asset
    from airflow_dlt_provider.authoring.task_group import DltTaskGroup
    from airflow_dlt_provider.exceptions import DltProviderError
    from airflow_dlt_provider.hooks.dlt import DltHook
    from airflow_dlt_provider.operators.run import DltRunOperator


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'airflow_dlt_provider' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
