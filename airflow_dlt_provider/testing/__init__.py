"""Test helpers for DAGs that use dlt: run a DAG through a real Airflow metadata DB and read the outcome.

The pytest plugin (``airflow_dlt_provider.testing.plugin``, loaded through the ``pytest11`` entry point)
exposes them as fixtures. Names resolve lazily: importing this package imports neither Airflow nor dlt.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC_NAMES: dict[str, str] = {
    "assert_dlt_pools_declared": "airflow_dlt_provider.testing.checks",
    "assert_dlt_sources_valid": "airflow_dlt_provider.testing.checks",
    "format_import_errors": "airflow_dlt_provider.testing.checks",
    "load_dag_folder": "airflow_dlt_provider.testing.checks",
    "read_pools_file": "airflow_dlt_provider.testing.checks",
    "DagTestResult": "airflow_dlt_provider.testing.dagrun",
    "load_dag": "airflow_dlt_provider.testing.dagrun",
    "run_dag": "airflow_dlt_provider.testing.dagrun",
    "DuckDBRunResult": "airflow_dlt_provider.testing.duckdb_run",
    "run_with_duckdb": "airflow_dlt_provider.testing.duckdb_run",
}

__all__ = sorted(_PUBLIC_NAMES)


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'airflow_dlt_provider.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return list(__all__)
