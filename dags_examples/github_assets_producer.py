"""Data-aware scheduling, producer side: a dlt load whose tables become Airflow assets.

Every table the task loads gets an asset event with ``extra`` = rows, load id, pipeline and dataset name,
under the stable URI ``dlt://duckdb.github_assets/github_raw/<table>`` and under its location
(``duckdb:/.../github_assets.duckdb/github_raw/<table>``). The source is given as an import string, so the
factory is not called while the DAG is parsed (dlt resolves its configuration when a source is created,
which is slow in a DAG processor); the tables therefore reach Airflow through the asset alias
``dlt:github_assets``. Passing a source *object* instead declares its tables as outlets at parse time.
See ``github_assets_consumer.py`` for the DAG they trigger.
"""

from __future__ import annotations

import pendulum

try:  # Airflow 3: the Task SDK
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_dlt_provider import DltRunOperator

with DAG(
    dag_id="dlt_github_assets_producer",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dlt", "example", "assets"],
    doc_md=__doc__,
):
    DltRunOperator(
        task_id="load_users_and_issues",
        source="github_sample_source:github_sample",
        source_kwargs={"repos": ["dlt"]},
        resources=["users", "issues"],
        pipeline_name="github_assets",
        dataset_name="github_raw",
        on_schema_change="warn",
    )
