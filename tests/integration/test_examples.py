"""The example DAGs (mounted as the DAGs folder by docker-compose.yaml) import cleanly, their pools export in
the format the pytest plugin reads, and the warehouse example loads into a real PostgreSQL through an
``AIRFLOW_CONN_WAREHOUSE`` URL, as in docker compose."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest
from support.sample_data import EXAMPLES_DIR

from airflow_dlt_provider.pools.sync import export_pools, pools_needed
from airflow_dlt_provider.testing import assert_dlt_pools_declared, load_dag_folder

EXAMPLE_DAG_IDS = {"dlt_github_sample_run", "dlt_github_sample_group", "dlt_github_sample_warehouse"}


def test_examples_import_and_their_exported_pools_are_declared(tmp_path):
    bag = load_dag_folder(EXAMPLES_DIR)
    assert set(bag.dags) >= EXAMPLE_DAG_IDS

    # what `airflow-dlt pools export -o pools.json` writes for this folder
    pools_file = tmp_path / "pools.json"
    pools_file.write_text(json.dumps(export_pools(pools_needed(bag.dags.values()))))
    needs = assert_dlt_pools_declared(bag, pools_file)
    assert {"dlt_github_sample", "dlt_github_sample_run", "dlt_github_sample_warehouse"} <= {
        n.name for n in needs
    }
    assert all(spec["slots"] == 1 for spec in json.loads(pools_file.read_text()).values())


@pytest.mark.postgres
def test_warehouse_example_loads_into_postgres(dags_folder, postgres_server, monkeypatch, sample_counts):
    from airflow_dlt_provider.testing import load_dag, run_dag

    database = f"warehouse_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(database)
    # the same URL shape as AIRFLOW_CONN_WAREHOUSE in docker-compose.yaml
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_server.dsn(database, driver="postgres"))
    # Airflow 3.3 runs dag.test() only for DAG files inside the DAGs folder
    dag_file = dags_folder / f"example_{uuid.uuid4().hex[:8]}.py"
    shutil.copyfile(EXAMPLES_DIR / "github_sample_warehouse.py", dag_file)
    try:
        result = run_dag(load_dag(dag_file, "dlt_github_sample_warehouse"))
    finally:
        dag_file.unlink()

    assert result.state == "success", result.task_states
    counts = {
        table: postgres_server.execute(f'SELECT count(*) FROM github_raw."{table}"', dbname=database)[0][0]
        for table in sample_counts
    }
    assert counts == sample_counts
    assert result.xcom("github.users")["destination"] == "postgres"


def test_examples_use_no_deprecated_airflow_import():
    """The examples import ``DAG`` and ``task`` from ``airflow.sdk`` on Airflow 3 (Airflow 2: the old names).

    A warning raised where an example's own code runs is an error (Airflow routes warnings to its logging,
    so they cannot be recorded, only turned into errors by the module they are attributed to).
    """
    import runpy
    import warnings

    for path in sorted(EXAMPLES_DIR.glob("*.py")):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", module="example_under_test")
            runpy.run_path(str(path), run_name="example_under_test")
