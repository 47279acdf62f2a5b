"""Run-time discovery of ``decompose="mapped"``: dlt's ``sql_database`` over a real PostgreSQL.

The DAG file is written once; a table created between two runs is loaded by the second run, because the
components are found when the discover task runs, not when the file is parsed.
"""

from __future__ import annotations

import json
import uuid

import pytest
from support.dag_runs import write_dag

from airflow_dlt_provider.testing.dagrun import load_dag, run_dag
from airflow_dlt_provider.testing.duckdb_run import dataset_row_counts

pytestmark = [pytest.mark.timeout(600)]

BODY = """
DltTaskGroup(
    "app",
    source="dlt.sources.sql_database:sql_database",
    source_kwargs={{"schema": "public"}},
    source_conn_ids={{"credentials": {source_conn!r}}},
    pipeline_name={pipeline!r},
    destination_conn_id={destination_conn!r},
    dataset_name="app_raw",
    decompose="mapped",
)
"""


def _execute(server, dbname: str, *statements: str) -> None:
    conn = server.connect(dbname)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_a_table_created_between_two_runs_is_loaded_without_a_dag_change(
    dags_folder, postgres_server, monkeypatch, make_conn, tmp_path
):
    suffix = uuid.uuid4().hex[:8]
    dbname, pipeline, dag_id = f"app_{suffix}", f"app_{suffix}", f"mapped_pg_{suffix}"
    postgres_server.create_database(dbname)
    source_conn = f"pg_src_{suffix}"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{source_conn.upper()}",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": postgres_server.host,
                "port": postgres_server.port,
                "login": postgres_server.user,
                "password": postgres_server.password,
                "schema": dbname,
            }
        ),
    )
    database = tmp_path / "app.duckdb"
    destination_conn = make_conn("duckdb", host=str(database))
    _execute(
        postgres_server,
        dbname,
        "CREATE TABLE public.people (id int primary key, name text)",
        "INSERT INTO public.people SELECT g, 'p' || g FROM generate_series(1, 5) g",
    )
    path = write_dag(
        dags_folder,
        dag_id,
        BODY.format(source_conn=source_conn, pipeline=pipeline, destination_conn=destination_conn),
        imports="from airflow_dlt_provider import DltTaskGroup",
        dag_args="max_active_runs=1",
    )
    written = path.read_text()
    try:
        first = run_dag(load_dag(path, dag_id))
        assert first.state == "success", first.task_states
        assert [c["name"] for c in first.xcom("app.discover")] == ["people"]
        assert dataset_row_counts(database, "app_raw") == {"people": 5}

        _execute(
            postgres_server,
            dbname,
            "CREATE TABLE public.orders (id int primary key, person_id int references public.people (id))",
            "INSERT INTO public.orders SELECT g, 1 + g % 5 FROM generate_series(1, 7) g",
        )
        assert path.read_text() == written  # the DAG file is the same for both runs
        second = run_dag(load_dag(path, dag_id))
    finally:
        path.unlink()

    assert second.state == "success", second.task_states
    discovered = second.xcom("app.discover")
    assert sorted((c["name"], c["pipeline_name"]) for c in discovered) == [
        ("orders", f"{pipeline}__orders"),
        ("people", f"{pipeline}__people"),
    ]
    counts = dataset_row_counts(database, "app_raw")
    assert counts["orders"] == 7
    assert counts["people"] in (5, 10)  # replaced or appended again, as dlt's sql_database decides
