"""``airflow-dlt init``: read a dlt pipeline script, decide, render a DAG file."""
