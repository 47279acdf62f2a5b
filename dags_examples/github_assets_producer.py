"""Data-aware scheduling, producer side: a dlt load whose tables become Airflow assets.

Every table the task loads gets an asset event with ``extra`` = rows, load id, pipeline and dataset name.
``users`` and ``issues`` are known when the DAG is parsed (the source object is passed), so they are
declared outlets with the stable URI ``dlt://duckdb.github_assets/github_raw/<table>``; the child table
``issues__labels`` and the location URIs (``duckdb:/.../github_assets.duckdb/github_raw/<table>``) arrive
through the asset alias ``dlt:github_assets``. See ``github_assets_consumer.py`` for the DAG they trigger.
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from github_sample_source import github_sample

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
        source=github_sample(repos=["dlt"]),
        resources=["users", "issues"],
        pipeline_name="github_assets",
        dataset_name="github_raw",
        on_schema_change="warn",
    )
