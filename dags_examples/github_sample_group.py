"""Load the offline GitHub-like sample with a ``DltTaskGroup``: one task per group of resources.

``decompose="serialize"`` gives two chained tasks: ``github.users`` and then ``github.issues`` (which also
loads the ``comments`` transformer fed by ``issues``). Both use the one-slot pool ``dlt_github_sample``;
create it with ``airflow-dlt pools sync`` (or ``airflow dlt pools sync`` on Airflow 3).
"""

from __future__ import annotations

import pendulum

try:  # Airflow 3: the Task SDK
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_dlt_provider import DltTaskGroup

with DAG(
    dag_id="dlt_github_sample_group",
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
        pipeline_name="github_sample",
        dataset_name="github_raw",
        decompose="serialize",
    )
