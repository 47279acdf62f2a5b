"""Test helpers for DAGs that use dlt: run a DAG through a real Airflow metadata DB and read the outcome.

The pytest plugin (``airflow_dlt_provider.testing.plugin``, loaded through the ``pytest11`` entry point)
exposes them as fixtures. Nothing here is imported when the package is imported.
"""
