"""End to end on a real PostgreSQL (scram-sha-256 password auth): credentials from Airflow connections.

The destination password and the source password contain ``@:/%#&?=``. After an ``airflow dags test`` run
the rows are counted in PostgreSQL, and the XCom values and the rendered template fields are searched for
each password raw and URL-encoded (``quote``, ``quote_plus``); the task log files too on a real scheduler
(``airflow dags test`` does not mask its output).
"""

from __future__ import annotations

import json
import textwrap
import uuid
from dataclasses import dataclass

import pytest
from conn_helpers import url_forms
from helpers import airflow_dags_test, duckdb_counts, write_dag

from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEST_PASSWORD = "Dst@:/%#&?=pw-7f3"
SOURCE_PASSWORD = "Src#&?=@:/%pw-9k2"


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _define_conn(monkeypatch, conn_id: str, server, user: str, password: str, dbname: str) -> None:
    payload = {
        "conn_type": "postgres",
        "host": server.host,
        "port": server.port,
        "login": user,
        "password": password,
        "schema": dbname,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))


def _metadata_rows(sql: str, **params) -> list[str]:
    from airflow import settings
    from sqlalchemy import text

    session = settings.Session()
    try:
        return [str(row[0]) for row in session.execute(text(sql), params).fetchall()]
    finally:
        session.close()


@dataclass
class CliRun:
    dag_id: str
    run_id: str
    state: str
    output: str


def _airflow_dags_test(dags_folder, dag_id: str, body: str, imports: str) -> CliRun:
    """``airflow dags test`` in a subprocess: Airflow's own logging set-up (and masker) writes the task
    output to stdout, as it would to a task log; pytest's log capture is not in the way."""
    from conftest import EXAMPLES_DIR

    write_dag(dags_folder, dag_id, body, imports)
    proc = airflow_dags_test(dag_id, str(EXAMPLES_DIR))
    runs = _metadata_rows("SELECT run_id FROM dag_run WHERE dag_id = :d", d=dag_id)
    states = _metadata_rows("SELECT state FROM dag_run WHERE dag_id = :d", d=dag_id)
    assert len(runs) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return CliRun(dag_id, runs[0], states[0], proc.stdout + proc.stderr)


def _assert_nowhere(result, captured: str, *passwords: str) -> None:
    xcoms = _metadata_rows(
        "SELECT value FROM xcom WHERE dag_id = :d AND run_id = :r", d=result.dag_id, r=result.run_id
    )
    rendered = _metadata_rows(
        "SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = :d AND run_id = :r",
        d=result.dag_id,
        r=result.run_id,
    )
    assert xcoms, "the run recorded no XCom: the search below would prove nothing"
    assert rendered, "the run recorded no rendered fields: the search below would prove nothing"
    for password in passwords:
        for form in url_forms(password):
            assert form not in captured, f"a form of the password is in the task output: {form!r}"
            assert all(form not in value for value in xcoms), f"in XCom: {form!r}"
            assert all(form not in value for value in rendered), f"in rendered fields: {form!r}"


def test_destination_conn_loads_sample_and_never_leaks(
    dags_folder, postgres_server, monkeypatch, sample_counts
):
    user, dbname, conn_id = _unique("loader"), _unique("warehouse"), _unique("pg_dest")
    postgres_server.create_user(user, DEST_PASSWORD)
    postgres_server.create_database(dbname, owner=user)
    _define_conn(monkeypatch, conn_id, postgres_server, user, DEST_PASSWORD, dbname)

    body = _group_and_canary(_unique("pg_e2e"), conn_id)
    result = _airflow_dags_test(dags_folder, _unique("pg_conn_dag"), body, _imports())
    assert result.state == "success", result.output[-5000:]

    counts = {
        table: postgres_server.execute(f'SELECT count(*) FROM raw_github."{table}"', dbname=dbname)[0][0]
        for table in sample_counts
    }
    assert counts == sample_counts

    assert "password form" in result.output, "the canary task's log lines were not captured"
    # `airflow dags test` prints task output without masking anything: Airflow 2 turns its masker on only in
    # `airflow tasks run` (settings.MASK_SECRETS_IN_LOGS), and 3.3 masks nothing there either (measured). The
    # task logs are checked on a real scheduler below; here XCom and rendered fields.
    _assert_nowhere(result, "", DEST_PASSWORD)


def _group_and_canary(pipeline: str, conn_id: str) -> str:
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


@pytest.mark.scheduler
def test_task_logs_of_a_real_scheduler_never_show_the_password(
    airflow_cluster, postgres_server, sample_counts
):
    """The same load on a running Airflow (LocalExecutor): every task log file, XCom and rendered field."""
    from helpers import DAG_FILE_TEMPLATE

    user, dbname, conn_id = _unique("loader"), _unique("warehouse"), _unique("pg_dest")
    postgres_server.create_user(user, DEST_PASSWORD)
    postgres_server.create_database(dbname, owner=user)
    payload = {
        "conn_type": "postgres",
        "host": postgres_server.host,
        "port": postgres_server.port,
        "login": user,
        "password": DEST_PASSWORD,
        "schema": dbname,
    }
    airflow_cluster.run_cli("connections", "add", conn_id, "--conn-json", json.dumps(payload))
    dag_id, pipeline = _unique("pg_conn_sched"), _unique("pg_sched")
    code = DAG_FILE_TEMPLATE.format(
        imports=_imports(),
        dag_id=dag_id,
        schedule="None",
        dag_args="",
        body=textwrap.indent(textwrap.dedent(_group_and_canary(pipeline, conn_id)), "    "),
    )
    airflow_cluster.add_dag_file(code, name=dag_id)
    airflow_cluster.set_pool(f"dlt_{pipeline}", 1)
    airflow_cluster.wait_for_dag(dag_id)
    airflow_cluster.unpause(dag_id)
    run_id = airflow_cluster.trigger(dag_id)
    state = airflow_cluster.wait_for_run(dag_id, run_id, timeout=300)
    assert state == "success", airflow_cluster.diagnostics()

    counts = {
        table: postgres_server.execute(f'SELECT count(*) FROM raw_github."{table}"', dbname=dbname)[0][0]
        for table in sample_counts
    }
    assert counts == sample_counts

    instances = airflow_cluster.task_instances(dag_id, run_id)
    logs = "\n".join(
        airflow_cluster.task_log(dag_id, run_id, ti.task_id, ti.try_number or 1) for ti in instances
    )
    assert logs.count("password form ***") == 3 and "dsn ***" in logs, "the canary's lines are not masked"
    xcoms = [
        str(row[0])
        for row in airflow_cluster.query(
            "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)
        )
    ]
    rendered = [
        str(row[0])
        for row in airflow_cluster.query(
            "SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = %s AND run_id = %s",
            (dag_id, run_id),
        )
    ]
    assert xcoms and rendered
    for form in url_forms(DEST_PASSWORD):
        assert form not in logs, f"in a task log: {form!r}"
        assert all(form not in value for value in xcoms + rendered), f"in XCom or rendered fields: {form!r}"


def _imports() -> str:
    imports = "from airflow_dlt_provider import DltTaskGroup\n"
    return imports + (
        "from airflow.sdk import task\n" if _airflow_3() else "from airflow.decorators import task\n"
    )


def test_source_reads_its_credentials_from_another_connection(dags_folder, postgres_server, monkeypatch):
    user, dbname, conn_id = _unique("reader"), _unique("app"), _unique("pg_src")
    postgres_server.create_user(user, SOURCE_PASSWORD)
    postgres_server.create_database(dbname, owner=user)
    _define_conn(monkeypatch, conn_id, postgres_server, user, SOURCE_PASSWORD, dbname)
    conn = postgres_server.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE public.people (id int primary key, name text)")
            cur.execute("INSERT INTO public.people SELECT g, 'p' || g FROM generate_series(1, 25) g")
            cur.execute(f'ALTER TABLE public.people OWNER TO "{user}"')
    finally:
        conn.close()

    pipeline = _unique("pg_source")
    body = f"""
    DltTaskGroup(
        group_id="app",
        source="dlt.sources.sql_database:sql_database",
        source_kwargs={{"schema": "public", "table_names": ["people"]}},
        source_conn_ids={{"credentials": {conn_id!r}}},
        pipeline_name={pipeline!r},
        dataset_name="app_raw",
        decompose="none",
    )
    """
    result = _airflow_dags_test(
        dags_folder, _unique("pg_src_dag"), body, "from airflow_dlt_provider import DltTaskGroup"
    )
    assert result.state == "success", result.output[-5000:]
    assert duckdb_counts(pipeline, "app_raw") == {"people": 25}
    _assert_nowhere(result, result.output, SOURCE_PASSWORD)


def _airflow_3() -> bool:
    return AIRFLOW_V_3_0_PLUS


UNTYPED_SOURCE = """
import dlt


@dlt.source
def app_db(credentials=dlt.secrets.value):  # untyped: dlt takes only resolved credentials here
    @dlt.resource(primary_key="id")
    def people():
        import sqlalchemy as sa

        engine = sa.create_engine(credentials.to_native_representation())
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT id, name FROM public.people ORDER BY id"))
                yield [{"id": row[0], "name": row[1]} for row in rows]
        finally:
            engine.dispose()

    return people
"""


def test_untyped_source_argument_receives_connection_credentials(dags_folder, postgres_server, monkeypatch):
    """``def app_db(credentials=dlt.secrets.value)`` (no type hint) gets resolved credentials from
    ``source_conn_ids`` and reads the real PostgreSQL through them (was: ConfigFieldMissingException)."""
    user, dbname, conn_id = _unique("reader"), _unique("app"), _unique("pg_untyped")
    _people_table(postgres_server, user, dbname, rows=12)
    _define_conn(monkeypatch, conn_id, postgres_server, user, SOURCE_PASSWORD, dbname)

    pipeline = _unique("pg_untyped")
    body = f"""
    DltTaskGroup(
        group_id="app",
        source=app_db,
        source_conn_ids={{"credentials": {conn_id!r}}},
        resources=["people"],
        pipeline_name={pipeline!r},
        dataset_name="app_raw",
        decompose="none",
    )
    """
    imports = "from airflow_dlt_provider import DltTaskGroup\n" + UNTYPED_SOURCE
    result = _airflow_dags_test(dags_folder, _unique("pg_untyped_dag"), body, imports)
    assert result.state == "success", result.output[-5000:]
    assert duckdb_counts(pipeline, "app_raw") == {"people": 12}
    _assert_nowhere(result, result.output, SOURCE_PASSWORD)


def _people_table(server, user: str, dbname: str, rows: int) -> None:
    """A database ``dbname`` owned by a new ``user`` (password SOURCE_PASSWORD) with ``rows`` people."""
    server.create_user(user, SOURCE_PASSWORD)
    server.create_database(dbname, owner=user)
    conn = server.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE public.people (id int primary key, name text)")
            cur.execute("INSERT INTO public.people SELECT g, 'p' || g FROM generate_series(1, %s) g", (rows,))
            cur.execute(f'ALTER TABLE public.people OWNER TO "{user}"')
    finally:
        conn.close()


READ_WITHOUT_PSYCOPG3 = """
import json, sys
sys.modules["psycopg"] = None  # psycopg 3 is not installed: only psycopg2 comes with the [postgres] extra
from dlt.sources.sql_database import sql_database
from airflow_dlt_provider.connections import source_credentials_from_connection

credentials = source_credentials_from_connection(sys.argv[1])
source = sql_database(credentials=credentials, schema="public", table_names=["people"])
print(json.dumps({"people": len(list(source.resources["people"]))}))
"""


def test_sql_database_reads_postgres_with_only_psycopg2(postgres_server, monkeypatch, tmp_path):
    """With the documented extras only (psycopg2 from ``[postgres]``), ``sql_database`` through a postgres
    connection failed: SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3 (``No module named 'psycopg'``).
    psycopg 3 is made unimportable in a fresh process, so a test venv that has it cannot hide this."""
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    user, dbname, conn_id = _unique("reader"), _unique("app"), _unique("pg_psycopg2")
    _people_table(postgres_server, user, dbname, rows=7)
    _define_conn(monkeypatch, conn_id, postgres_server, user, SOURCE_PASSWORD, dbname)
    script = tmp_path / "read_people.py"
    script.write_text(READ_WITHOUT_PSYCOPG3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(script), conn_id], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"people": 7}
