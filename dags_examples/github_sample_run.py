"""Load the offline GitHub-like sample into the embedded DuckDB default with one DltRunOperator."""

from __future__ import annotations

import pendulum

try:  # Airflow 3: the Task SDK
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_dlt_provider import DltRunOperator

with DAG(
    dag_id="dlt_github_sample_run",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dlt", "example"],
    doc_md=__doc__,
):
    DltRunOperator(
        task_id="load_github_sample",
        source="github_sample_source:github_sample",
        pipeline_name="github_sample_run",
        dataset_name="github_raw",
    )
