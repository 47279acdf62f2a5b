"""The PostgreSQL load of ``test_postgres_e2e`` on a running Airflow (LocalExecutor): no task log file, XCom or
rendered field shows the destination password in any form (``airflow dags test`` does not mask its output, a real
task log does)."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
from support.dag_runs import DAG_FILE_TEMPLATE
from support.postgres_dag import DEST_PASSWORD, dag_imports, group_and_canary
from support.secrets import url_forms

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.mark.scheduler
def test_task_logs_of_a_real_scheduler_never_show_the_password(
    airflow_cluster, postgres_server, sample_counts
):
    """The same load on a running Airflow (LocalExecutor): every task log file, XCom and rendered field."""
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
        imports=dag_imports(),
        dag_id=dag_id,
        schedule="None",
        dag_args="",
        body=textwrap.indent(textwrap.dedent(group_and_canary(pipeline, conn_id)), "    "),
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
