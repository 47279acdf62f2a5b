"""``airflow-dlt init``: read a dlt pipeline script, decide, render and write a DAG file."""
