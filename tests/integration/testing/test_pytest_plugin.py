"""The pytest plugin users load (``pytest11`` entry point) to test their own dlt DAGs.

Each test writes a small user project (DAGs folder, pools file, test module) and runs pytest on it in a
subprocess: the plugin is picked up through the entry point of the installed package, as in a user's CI.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS

pytest_plugins = ["pytester"]

SHOP_SOURCE = """\
import dlt


@dlt.source(name="shop")
def shop():
    @dlt.resource(primary_key="id")
    def customers():
        yield [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}]

    @dlt.resource(primary_key="id")
    def orders():
        yield {"id": 10, "customer_id": 1, "items": [{"sku": "a"}, {"sku": "b"}]}
        yield {"id": 11, "customer_id": 2, "items": []}

    @dlt.transformer(data_from=orders)
    def order_events(order):
        yield {"order_id": order["id"], "event": "created"}

    return customers, orders, order_events
"""

SHOP_DAG = f"""\
import pendulum
{"from airflow.sdk import DAG" if AIRFLOW_V_3_0_PLUS else "from airflow import DAG"}

from airflow_dlt_provider import DltTaskGroup

with DAG("shop", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    # the warehouse connection is not defined in the tests: dlt_duckdb_run loads into DuckDB instead
    DltTaskGroup(group_id="shop", source="shop_source:shop", pipeline_name="shop", dataset_name="raw_shop",
                 destination_conn_id="warehouse")
"""

BROKEN_DAG = """\
from airflow import DAG
import module_that_is_not_installed_anywhere
"""


def _project(pytester: pytest.Pytester, *, broken: bool, pools: dict, ini: str) -> None:
    dags = pytester.mkdir("dags")
    (dags / "shop_source.py").write_text(SHOP_SOURCE)
    (dags / "shop_dag.py").write_text(SHOP_DAG)
    if broken:
        (dags / "broken_dag.py").write_text(BROKEN_DAG)
    (pytester.path / "pools.json").write_text(json.dumps(pools))
    pytester.makeini(textwrap.dedent(ini))


def test_import_errors_and_undeclared_pools_are_reported(pytester):
    _project(
        pytester,
        broken=True,
        pools={"some_other_pool": {"slots": 3}},
        ini="""
        [pytest]
        dlt_dags_folder = dags
        dlt_pools_file = pools.json
        """,
    )
    pytester.makepyfile(
        test_user_dags="""
        from airflow_dlt_provider.testing import assert_dlt_pools_declared, load_dag_folder

        def test_dags_import(dlt_dagbag):
            pass

        def test_pools_declared(dlt_dags_folder, dlt_pools_file):
            bag = load_dag_folder(dlt_dags_folder, raise_on_errors=False)
            assert sorted(bag.dags) == ["shop"]
            assert_dlt_pools_declared(bag, dlt_pools_file)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1, failed=1)
    # the DAG folder report: which file, which error, no Airflow internals in front of it
    result.stdout.fnmatch_lines(
        [
            "*1 DAG file failed to import in *dags:",
            "broken_dag.py:",
            "*No module named 'module_that_is_not_installed_anywhere'*",
        ]
    )
    # the pools report: the pool, the tasks needing it, how to fix it
    result.stdout.fnmatch_lines(
        [
            "*PoolsNotDeclaredError: 1 pool(s) used by dlt tasks are not declared in pools file *pools.json*",
            "*dlt_shop (used by shop.shop.customers, shop.shop.orders) is missing",
        ]
    )


@pytest.mark.slow
def test_user_suite_imports_checks_pools_and_runs_into_duckdb(pytester):
    """The happy path of a user's CI: own Airflow home, DAGs import, pools declared, a run into DuckDB."""
    _project(
        pytester,
        broken=False,
        pools={"dlt_shop": {"slots": 1, "description": "dlt pipeline shop", "include_deferred": False}},
        ini="""
        [pytest]
        dlt_dags_folder = dags
        dlt_pools_file = pools.json
        dlt_airflow_home = tmp
        """,
    )
    pytester.makepyfile(
        test_user_dags="""
        import os
        from pathlib import Path

        from airflow_dlt_provider.testing import assert_dlt_pools_declared

        def test_session_has_its_own_airflow_home(dlt_dags_folder):
            assert Path(os.environ["AIRFLOW_HOME"]).name.startswith("dlt-airflow-home-")
            assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(dlt_dags_folder)

        def test_dags_import(dlt_dagbag):
            assert sorted(dlt_dagbag.dags) == ["shop"]
            assert [t.task_id for t in dlt_dagbag.dags["shop"].tasks] == ["shop.customers", "shop.orders"]

        def test_pools_declared(dlt_dagbag, dlt_pools_file):
            needs = assert_dlt_pools_declared(dlt_dagbag, dlt_pools_file)
            assert [need.name for need in needs] == ["dlt_shop"]

        def test_run_into_duckdb(dlt_dagbag, dlt_duckdb_run):
            dag = dlt_dagbag.dags["shop"]
            result = dlt_duckdb_run(dag)
            assert result.state == "success", result.task_states
            assert result.row_counts() == {
                "customers": 2, "orders": 2, "orders__items": 2, "order_events": 2,
            }
            summaries = result.summaries()
            assert summaries["shop.customers"]["rows"] == {"customers": 2}
            assert summaries["shop.orders"]["destination"] == "duckdb"
            assert result.duckdb_path("shop").is_file()
            # the DAG object is left as it was
            assert {t.destination_conn_id for t in dag.tasks} == {"warehouse"}
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--durations=5")

    result.stdout.fnmatch_lines(["airflow-dlt: Airflow home *dlt-airflow-home-*"])
    result.assert_outcomes(passed=4)


def test_pools_files_of_each_platform_are_read(tmp_path):
    from airflow_dlt_provider.testing import read_pools_file

    astro = tmp_path / "airflow_settings.yaml"
    astro.write_text(
        "airflow:\n  connections: []\n  pools:\n"
        "    - pool_name: dlt_shop\n      pool_slot: 1\n      pool_description: dlt pipeline shop\n"
        "    - pool_name: reports\n      pool_slot: 4\n"
    )
    listed = tmp_path / "pools.json"
    listed.write_text(json.dumps([{"name": "dlt_shop", "slots": 1}, {"pool": "reports", "slots": 4}]))
    scalar = tmp_path / "bad.json"
    scalar.write_text("3")

    assert read_pools_file(astro) == {"dlt_shop": 1, "reports": 4}
    assert read_pools_file(listed) == {"dlt_shop": 1, "reports": 4}
    with pytest.raises(ValueError, match=r"holds a int; expected a JSON object"):
        read_pools_file(scalar)


def test_pool_with_too_few_slots_is_reported(tmp_path):
    """A task asking for two slots of a one-slot pool is never scheduled: the check says so."""
    from airflow_dlt_provider import DltRunOperator
    from airflow_dlt_provider.exceptions import PoolsNotDeclaredError
    from airflow_dlt_provider.testing import assert_dlt_pools_declared

    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import DAG
    else:
        from airflow import DAG

    with DAG("slots", schedule=None) as dag:
        DltRunOperator(
            task_id="load", source="github_sample_source:github_sample", pipeline_name="shop", pool_slots=2
        )
    pools = tmp_path / "pools.json"
    pools.write_text(json.dumps({"dlt_shop": {"slots": 1}}))

    with pytest.raises(PoolsNotDeclaredError, match=r"dlt_shop has 1 slot\(s\), but slots.load need\(s\) 2"):
        assert_dlt_pools_declared(dag, pools)
    pools.write_text(json.dumps({"dlt_shop": {"slots": 2}}))
    assert [need.name for need in assert_dlt_pools_declared([dag], pools)] == ["dlt_shop"]
