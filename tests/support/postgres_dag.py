"""The DAG of the PostgreSQL connection tests (integration: ``airflow dags test``; system: a real scheduler): the
sample loaded into PostgreSQL through a destination connection, then a canary task that logs every form of the
connection's password (the masker must catch each one)."""

from __future__ import annotations

from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS

DEST_PASSWORD = "Dst@:/%#&?=pw-7f3"
"""A destination password with every character URL encoding changes."""


def group_and_canary(pipeline: str, conn_id: str) -> str:
    """DAG body: the sample source into PostgreSQL, then a canary task logging the connection's DSN and
    password forms (the masker must catch every one of them)."""
    return f"""
    group = DltTaskGroup(
        group_id="gh",
        source="github_sample_source:github_sample",
        pipeline_name={pipeline!r},
        destination_conn_id={conn_id!r},
        dataset_name="raw_github",
        decompose="serialize",
    )

    @task
    def canary():
        import logging
        from urllib.parse import quote, quote_plus
        from airflow_dlt_provider.connections import source_credentials_from_connection

        credentials = source_credentials_from_connection({conn_id!r})
        log = logging.getLogger("airflow.task")
        log.info("dsn %s", credentials.to_native_representation())
        for form in (credentials.password, quote(credentials.password, safe=""), quote_plus(credentials.password)):
            log.info("password form %s", form)

    group >> canary()
    """


def dag_imports() -> str:
    """The imports of :func:`group_and_canary`'s body (``task`` from where this Airflow has it)."""
    task_import = (
        "from airflow.sdk import task" if AIRFLOW_V_3_0_PLUS else "from airflow.decorators import task"
    )
    return f"from airflow_dlt_provider import DltTaskGroup\n{task_import}\n"
