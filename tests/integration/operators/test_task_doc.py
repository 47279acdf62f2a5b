"""Each dlt task says what it loads (``doc_md``, shown under the task's Details) and logs its connection first."""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import datetime

import dlt
import pendulum
from github_sample_source import github_sample
from support.dag_runs import run_dag_file

from airflow_dlt_provider import DltRunOperator, DltTaskGroup
from airflow_dlt_provider._compat import BaseOperator


def _dag():
    from airflow import DAG

    return DAG(
        f"doc_{uuid.uuid4().hex[:6]}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")
    )


def test_doc_md_names_resources_tables_disposition_destination_connection_and_pool():
    with _dag():
        task = DltRunOperator(
            task_id="t",
            source=github_sample(),
            pipeline_name="gh",
            resources=["issues"],
            destination_conn_id="warehouse",
            dataset_name="raw",
            run_kwargs={"write_disposition": "merge"},
            expect_rows={"issues": (1, None)},
        )
    doc = task.doc_md
    assert "**dlt pipeline** `gh`" in doc and "connection `warehouse`" in doc and "dataset `raw`" in doc
    assert "- resources: `issues`" in doc
    assert "- tables: `issues` (and their child tables)" in doc
    assert "- write disposition: `merge`" in doc
    assert "- row expectations per run: `issues` >= 1 (warn)" in doc
    assert "pool: `dlt_gh` (one slot" in doc and "*No logs available*" in doc


def test_doc_md_never_shows_a_secret_and_keeps_the_users_own():
    secret = "doc-Pw-93kq"
    destination = dlt.destinations.postgres(credentials=f"postgresql://loader:{secret}@db.example/dwh")
    with _dag():
        task = DltRunOperator(
            task_id="t",
            source="github_sample_source:github_sample",
            pipeline_name="gh",
            destination=destination,
        )
        own = DltRunOperator(task_id="u", source=github_sample, pipeline_name="gh", doc_md="mine")
        group = DltTaskGroup("g", source=github_sample(), pipeline_name="gh2", pool=None)
    assert "destination postgres" in task.doc_md and secret not in task.doc_md
    assert "every selected resource of the source" in task.doc_md
    assert "found at run time" in task.doc_md
    assert own.doc_md == "mine"
    docs = {t.task_id: t.doc_md for t in group.children.values() if isinstance(t, BaseOperator)}
    assert "- resources: `users`" in docs["g.users"] and "- pool: `default_pool`" in docs["g.users"]


def test_the_first_log_line_names_the_connection(dags_folder, make_conn, tmp_path, caplog, capsys):
    conn_id = make_conn("duckdb", host=str(tmp_path / "doc.duckdb"))
    body = (
        f"DltRunOperator(task_id='load', source=github_sample(), resources=['users'], "
        f"pipeline_name='doc_{uuid.uuid4().hex[:6]}', destination_conn_id={conn_id!r}, dataset_name='raw')"
    )
    caplog.set_level(logging.INFO)
    result = run_dag_file(
        dags_folder,
        f"doc_{uuid.uuid4().hex[:6]}",
        body,
        imports="from github_sample_source import github_sample",
    )
    assert result.state == "success", result.task_states
    lines = _task_log_lines(caplog, capsys)
    first = next(i for i, line in enumerate(lines) if f"destination connection {conn_id!r}" in line)
    assert first < next(i for i, line in enumerate(lines) if "loading resources users" in line)
    assert "dlt pipeline" in lines[first] and "pool 'dlt_doc_" in lines[first]


def _task_log_lines(caplog, capsys) -> list[str]:
    """The task's log lines in time order. The operator logs through ``self.log``: on Airflow 3 the task SDK's
    structured logger, which ``dag.test`` prints instead of handing to the standard loggers that caplog sees."""
    timed = [(record.created, record.getMessage()) for record in caplog.records]
    for line in capsys.readouterr().out.splitlines():
        stamp, _, message = line.partition(" ")
        with contextlib.suppress(ValueError):
            timed.append((datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp(), message))
    return [message for _, message in sorted(timed)]
