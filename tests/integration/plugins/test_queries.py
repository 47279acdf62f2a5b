"""``plugins/queries.py``: the API server's side of the ``/dlt`` app (Airflow 3.1+).

The whole path, a user's token to the pipelines they may see, is in ``test_ui_permissions.py``.
"""

from __future__ import annotations

import inspect

import pytest

from airflow_dlt_provider._compat import AIRFLOW_V_3_1_PLUS

pytestmark = pytest.mark.skipif(
    not AIRFLOW_V_3_1_PLUS, reason="the UI plugin's read side runs in Airflow 3.1+'s API server"
)


def test_readable_dag_ids_is_a_dependency_on_the_calling_user() -> None:
    from airflow_dlt_provider.plugins.queries import readable_dag_ids_dependency

    assert "user" in inspect.signature(readable_dag_ids_dependency()).parameters


def test_no_summaries_without_readable_dags_or_dlt_tasks() -> None:
    from airflow_dlt_provider.plugins.queries import dlt_task_summaries

    assert dlt_task_summaries(set(), 10) == []
    assert dlt_task_summaries({"no_such_dag"}, 10) == []
