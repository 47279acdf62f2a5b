"""Data-aware scheduling, consumer side: runs whenever the dlt DAG ``dlt_github_assets_producer`` loads ``users``.

The schedule names the table by its stable logical URI -- no host, file path or credentials needed:
``table_asset(destination_conn_id, dataset_name, table)``, or for the embedded DuckDB default
``table_asset(None, dataset_name, table, pipeline_name=...)``. The task reads the row count the producer
put into the asset event and checks it against the table.
"""

from __future__ import annotations

from typing import Any

import pendulum

try:  # Airflow 3: the Task SDK
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

from airflow_dlt_provider import table_asset

USERS = table_asset(None, "github_raw", "users", pipeline_name="github_assets")


@task
def report_new_users(**context: Any) -> dict[str, Any]:
    """Compare the rows announced by the triggering asset event with the rows in the table."""
    import duckdb

    from airflow_dlt_provider.runtime.workdir import default_duckdb_path

    # the events of USERS only (Airflow 3 also lists them under the alias that produced them); Airflow 3
    # calls them asset events keyed by asset, Airflow 2 dataset events keyed by URI
    if "triggering_asset_events" in context:
        events = list(context["triggering_asset_events"][USERS])
    else:
        events = list(context["triggering_dataset_events"][USERS.uri])
    announced = sum(int((event.extra or {}).get("rows", 0)) for event in events)
    with duckdb.connect(str(default_duckdb_path("github_assets")), read_only=True) as con:
        (in_table,) = con.execute("SELECT count(*) FROM github_raw.users").fetchone()
    print(f"{len(events)} asset event(s) announced {announced} users; the table holds {in_table}")
    return {"events": len(events), "announced_rows": announced, "rows_in_table": int(in_table)}


with DAG(
    dag_id="dlt_github_assets_consumer",
    schedule=[USERS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dlt", "example", "assets"],
    doc_md=__doc__,
):
    report_new_users()
