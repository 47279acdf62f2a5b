"""Load the offline GitHub-like sample into the ``warehouse`` connection (the PostgreSQL of docker compose).

``docker-compose.yaml`` defines the connection as ``AIRFLOW_CONN_WAREHOUSE``; elsewhere define a connection
``warehouse`` of type ``postgres`` (or change ``destination_conn_id``). The tasks use the one-slot pool
``dlt_github_sample_warehouse``, created by ``airflow-dlt pools sync``.
"""

from __future__ import annotations

import pendulum

try:  # Airflow 3: the Task SDK
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_dlt_provider import DltTaskGroup

with DAG(
    dag_id="dlt_github_sample_warehouse",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dlt", "example"],
    doc_md=__doc__,
):
    DltTaskGroup(
        group_id="github",
        source="github_sample_source:github_sample",
        # naming the resources keeps the parse cheap: the source module (and dlt) load only in the tasks;
        # a transformer goes in a list with the resource that feeds it (one task)
        resources=["users", ["issues", "comments"]],
        pipeline_name="github_sample_warehouse",
        destination_conn_id="warehouse",
        dataset_name="github_raw",
        decompose="independent",  # a task per component; they share the pipeline, so run one at a time
        default_args={"retries": 2},
    )
