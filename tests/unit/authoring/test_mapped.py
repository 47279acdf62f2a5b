"""``decompose="mapped"``: two tasks at parse time, the components found and loaded at run time.

Here the structure and the parse-time errors (no run). That mapped loads what serialize loads, table by table,
row by row, is proved by a ``dag.test()`` run in tests/integration/authoring/test_mapped_run.py.
"""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
from support.sources import task_only

from airflow_dlt_provider import DltTaskGroup
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS
from airflow_dlt_provider.exceptions import InvalidArgumentError, UnknownResourceError
from airflow_dlt_provider.pools.sync import pools_needed

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG
else:
    from airflow import DAG


def _dag(dag_id: str = "dag", **kwargs: Any) -> Any:
    kwargs.setdefault("max_active_runs", 1)
    return DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), **kwargs)


# ---------------------------------------------------------------- parse time


@pytest.mark.parametrize("resources", [None, ["customers", ["orders", "order_events"]]])
def test_mapped_builds_two_tasks_and_never_calls_the_factory(resources):
    task_only.CALLS.clear()
    with _dag() as dag:
        group = DltTaskGroup(
            "shop",
            source=task_only.shop,
            pipeline_name="shop",
            resources=resources,
            decompose="mapped",
            max_parallel=3,
            default_args={"retries": 2},
        )

    assert task_only.CALLS == []
    assert sorted(dag.task_dict) == ["shop.discover", "shop.load"]
    discover, load = dag.task_dict["shop.discover"], dag.task_dict["shop.load"]
    assert load.upstream_task_ids == {"shop.discover"}
    assert (load.pool, load.max_active_tis_per_dagrun, load.retries) == ("dlt_shop__mapped", 3, 2)
    assert discover.pool == "default_pool" and discover.retries == 2
    assert load.map_index_template == "{{ task.component_name }}"
    assert [getattr(outlet, "name", None) for outlet in load.outlets] == ["dlt:shop"]
    assert group.plan.task_ids == ["discover", "load"]
    expected = {} if resources is None else {"customers", "orders", "order_events"}
    assert set(group.tasks_by_resource) == set(expected)
    # airflow-dlt pools sync gives the pool as many slots as components load at once
    needs = {need.name: need.slots for need in pools_needed([dag])}
    assert needs == {"dlt_shop__mapped": 3}


def _error(**overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "source": task_only.shop,
        "pipeline_name": "shop",
        "decompose": "mapped",
    }
    dag_kwargs = overrides.pop("dag_kwargs", {})
    arguments.update(overrides)
    with pytest.raises((InvalidArgumentError, UnknownResourceError)) as error, _dag(**dag_kwargs):
        DltTaskGroup("g", **arguments)
    return str(error.value)


def test_mapped_needs_one_active_run():
    message = _error(dag_kwargs={"max_active_runs": 4})
    assert "needs max_active_runs=1 on DAG 'dag' (it has max_active_runs=4)" in message
    assert "decompose='parallel-isolated'" in message


def test_mapped_outside_a_dag_is_refused():
    with pytest.raises(InvalidArgumentError, match="must be built inside a DAG"):
        DltTaskGroup("g", source=task_only.shop, pipeline_name="shop", decompose="mapped")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"max_parallel": 0}, "max_parallel=0 is not accepted; expected a positive int"),
        ({"max_parallel": 2, "decompose": "serialize"}, "max_parallel=2 applies only to decompose='mapped'"),
        (
            {"default_args": {"max_active_tis_per_dagrun": 2}},
            "default_args may not set max_active_tis_per_dagrun with decompose='mapped'; pass max_parallel",
        ),
        (
            {"operator_kwargs": {"max_active_tis_per_dagrun": 2}},
            "default_args may not set max_active_tis_per_dagrun with decompose='mapped'; pass max_parallel",
        ),
        ({"run_kwargs": {"refresh": "drop_sources"}}, "refresh']='drop_sources' cannot be used"),
        ({"parse_cache": "file"}, "parse_cache='file' does not apply to decompose='mapped'"),
        (
            {"source": "<a source object>", "resources": ["nope"]},
            "source 'shop' has no resource named 'nope'; available resources: customers, orders",
        ),
        (
            {"source": "<a source object>", "source_kwargs": {"rows": 1}},
            "source 'shop' is already a source object, so source_kwargs/source_conn_ids cannot be applied",
        ),
    ],
)
def test_mapped_argument_errors(overrides, expected, monkeypatch):
    if overrides.get("source") == "<a source object>":
        monkeypatch.setattr(task_only, "_current_task", lambda: "test")
        overrides = {**overrides, "source": task_only.shop()}
    assert expected in _error(**overrides)


# ---------------------------------------------------------------- a real run


def test_check_and_the_duckdb_test_run_see_mapped_groups():
    """``airflow-dlt check`` checks the discover task's resources; the pytest plugin's DuckDB run reaches the
    mapped task's arguments (they live in its partial kwargs) and puts them back."""
    from airflow_dlt_provider.authoring.full_check import check_dlt_tasks
    from airflow_dlt_provider.testing.duckdb_run import _duckdb_destinations

    with _dag() as dag:
        DltTaskGroup(
            "gh",
            source="github_sample_source:github_sample",
            pipeline_name="gh",
            resources=["users", "nope"],
            decompose="mapped",
            destination_conn_id="warehouse",
        )
    findings = [str(finding) for finding in check_dlt_tasks([dag])]
    assert len(findings) == 1 and findings[0].startswith("error     dag.gh.discover: ")
    assert "has no resource named 'nope'" in findings[0]

    load = dag.task_dict["gh.load"]
    with _duckdb_destinations(dag) as redirected:
        assert "gh.load" in redirected
        assert (load.partial_kwargs["destination"], load.partial_kwargs["destination_conn_id"]) == (
            "duckdb",
            None,
        )
    assert load.partial_kwargs["destination_conn_id"] == "warehouse"


def test_discover_refuses_a_dag_changed_after_the_group_was_built():
    """The parse-time check can be defeated by changing the DAG afterwards; the discover task checks again."""
    from airflow_dlt_provider._compat import airflow_fail_exception

    task_only.CALLS.clear()
    with _dag() as dag:
        DltTaskGroup("shop", source=task_only.shop, pipeline_name="shop", decompose="mapped")
    dag.max_active_runs = 2
    with pytest.raises(
        airflow_fail_exception(), match="has max_active_runs=2, but decompose='mapped' needs 1"
    ):
        dag.task_dict["shop.discover"].execute({})
    assert task_only.CALLS == []  # refused before the factory ran
