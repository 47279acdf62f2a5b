"""pytest plugin for users testing their own dlt DAGs (``pytest11`` entry point ``airflow_dlt``).

Imports nothing heavy at load time: Airflow reads ``AIRFLOW_HOME`` when it is first imported, and a
project's ``conftest.py`` must be able to set it first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def dlt_run_dag() -> Callable[..., Any]:
    """Run a DAG once through the configured metadata DB: ``dlt_run_dag(dag) -> DagTestResult``."""
    from airflow_dlt_provider.testing.dagrun import run_dag

    return run_dag
