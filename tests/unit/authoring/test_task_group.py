"""DltTaskGroup: the DAG it builds (ids, edges, pools, operator arguments) and one real run into DuckDB."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dlt
import pendulum
import pytest
from github_sample_source import github_sample

from airflow_dlt_provider import DltRunOperator, DltTaskGroup
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS, TaskGroup, duplicate_task_id_error
from airflow_dlt_provider.exceptions import (
    InvalidArgumentError,
    SourceResolutionError,
    UnknownResourceError,
    UnprotectedPipelineWarning,
)

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG
else:
    from airflow import DAG


def _dag(dag_id: str = "dag") -> Any:
    return DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)


def _structure(dag: Any) -> dict[str, tuple[list[str], str | None, int]]:
    """task id -> (sorted upstream ids, pool, pool_slots)."""
    return {t.task_id: (sorted(t.upstream_task_ids), t.pool, t.pool_slots) for t in dag.tasks}


def exploding_source(**kwargs: Any) -> Any:
    raise AssertionError("the factory must not be called at parse time")


# ---------------------------------------------------------------- structure


def test_serialize_over_the_sample_factory():
    with _dag() as dag:
        group = DltTaskGroup("github", source=github_sample, pipeline_name="gh", dataset_name="raw")

    assert _structure(dag) == {
        "github.users": ([], "dlt_gh", 1),
        "github.issues": (["github.users"], "dlt_gh", 1),
    }
    assert dag.task_dict["github.issues"].resource_names == ["issues", "comments"]
    assert dag.task_dict["github.users"].resource_names == ["users"]
    assert {name: task.task_id for name, task in group.tasks_by_resource.items()} == {
        "users": "github.users",
        "issues": "github.issues",
        "comments": "github.issues",
    }
    assert all(isinstance(t, DltRunOperator) for t in dag.tasks)
    assert {t.pipeline_name for t in dag.tasks} == {"gh"}
    assert {t.dataset_name for t in dag.tasks} == {"raw"}


def test_none_is_one_task_named_after_the_source():
    with _dag() as dag:
        group = DltTaskGroup(
            "g", source="github_sample_source:github_sample", pipeline_name="gh", decompose="none"
        )
    assert _structure(dag) == {"g.github_sample": ([], "dlt_gh", 1)}
    assert dag.task_dict["g.github_sample"].resource_names is None
    assert group.tasks_by_resource == {}


def test_independent_shares_one_pool_and_isolated_gets_own_pipelines():
    source = _wide_source()
    with _dag() as dag:
        DltTaskGroup("par", source=source, pipeline_name="w", decompose="independent")
        DltTaskGroup("iso", source=source, pipeline_name="w", decompose="parallel-isolated")

    structure = _structure(dag)
    assert {k: v for k, v in structure.items() if k.startswith("par.")} == {
        "par.a": ([], "dlt_w", 1),
        "par.b": (["par.a"], "dlt_w", 1),
        "par.c": (["par.a"], "dlt_w", 1),
    }
    assert {k: v for k, v in structure.items() if k.startswith("iso.")} == {
        "iso.a": ([], "dlt_w__a", 1),
        "iso.b": (["iso.a"], "dlt_w__b", 1),
        "iso.c": (["iso.a"], "dlt_w__c", 1),
    }
    assert dag.task_dict["iso.b"].pipeline_name == "w__b"
    assert dag.task_dict["iso.b"].resource_names == ["b", "b_child"]


def _wide_source() -> Any:
    a = dlt.resource([{"id": 1}], name="a")
    b = dlt.resource([{"id": 2}], name="b")

    @dlt.transformer(data_from=b, name="b_child")
    def b_child(item: Any) -> Any:
        yield item

    c = dlt.resource([{"id": 3}], name="c")
    from dlt.extract.source import DltSource

    return DltSource(dlt.Schema("wide"), "wide", [a, b, b_child, c])


def test_default_args_reach_every_task_and_pool_arguments():
    with _dag() as dag:
        with pytest.warns(UnprotectedPipelineWarning, match="pool=None: the tasks of pipeline 'gh'"):
            DltTaskGroup(
                "g",
                source=github_sample,
                pipeline_name="gh",
                pool=None,
                default_args={"retries": 3, "execution_timeout": timedelta(minutes=7), "queue": "dlt"},
            )
        DltTaskGroup(
            "h",
            source=github_sample,
            pipeline_name="gh2",
            pool="warehouse",
            default_args={"pool_slots": 2},
            tooltip="loads github",
        )
    for task_id in ("g.users", "g.issues"):
        task = dag.task_dict[task_id]
        assert (task.retries, task.execution_timeout, task.queue) == (3, timedelta(minutes=7), "dlt")
        assert task.pool == "default_pool"
    assert {(t.pool, t.pool_slots) for t in dag.tasks if t.task_id.startswith("h.")} == {("warehouse", 2)}
    assert dag.task_group.children["h"].tooltip == "loads github"


def test_resources_given_means_the_factory_is_not_called():
    with _dag() as dag:
        group = DltTaskGroup(
            "g",
            source=exploding_source,
            pipeline_name="p",
            resources=["users", ["issues", "comments"]],
            decompose="independent",
        )
    assert _structure(dag) == {"g.users": ([], "dlt_p", 1), "g.issues": (["g.users"], "dlt_p", 1)}
    assert dag.task_dict["g.issues"].resource_names == ["issues", "comments"]
    assert group.tasks_by_resource["comments"].task_id == "g.issues"


def test_none_with_a_factory_does_not_call_it():
    with _dag() as dag:
        DltTaskGroup("g", source=exploding_source, pipeline_name="p", decompose="none")
    assert list(dag.task_dict) == ["g.exploding_source"]


def test_odd_resource_names_and_nested_group_prefix_stay_within_250_characters():
    long_name = "r" * 300
    names = [long_name, "with space", "slash/name", "ünï"]
    source = _source_of(names)
    with _dag() as dag, TaskGroup("outer_group_" + "x" * 30):
        DltTaskGroup("inner", source=source, pipeline_name="p")
    ids = list(dag.task_dict)
    assert len(ids) == 4
    assert all(len(i) <= 250 for i in ids)
    assert all(i.startswith("outer_group_" + "x" * 30 + ".inner.") for i in ids)
    assert len(set(ids)) == 4


def _source_of(names: list[str]) -> Any:
    from dlt.extract.source import DltSource

    return DltSource(dlt.Schema("odd"), "odd", [dlt.resource([{"id": 1}], name=n) for n in names])


# ---------------------------------------------------------------- errors


def test_unknown_decompose():
    with _dag(), pytest.raises(InvalidArgumentError) as error:
        DltTaskGroup("g", source=github_sample, pipeline_name="p", decompose="paralel")
    assert (
        str(error.value)
        == "decompose='paralel' is not one of: none, serialize, independent, parallel-isolated, mapped"
    )


def test_unknown_resources_list_the_available_ones():
    with _dag(), pytest.raises(UnknownResourceError) as error:
        DltTaskGroup("g", source=github_sample(), pipeline_name="p", resources=["users", "isues"])
    assert "'isues'" in str(error.value)
    assert "available resources: users, issues, comments" in str(error.value)


def test_duplicate_group_id_is_a_clear_error():
    with _dag("dup_dag"), pytest.raises(duplicate_task_id_error()) as error:
        DltTaskGroup("github", source=github_sample, pipeline_name="p")
        DltTaskGroup("github", source=github_sample, pipeline_name="p2")
    assert "DltTaskGroup group_id='github' is already used" in str(error.value)


@pytest.mark.parametrize(
    ("operator_kwargs", "message"),
    [
        ({"pool": "x"}, "operator_kwargs may not set pool"),
        ({"task_id": "x", "resources": ["a"]}, "operator_kwargs may not set resources, task_id"),
        ({"pool_slots": 2}, "pool_slots=2 is not accepted with the automatic one-slot pool"),
    ],
)
def test_operator_kwargs_that_would_break_the_group(operator_kwargs, message):
    with _dag(), pytest.raises(InvalidArgumentError, match=message):
        DltTaskGroup("g", source=github_sample, pipeline_name="p", operator_kwargs=operator_kwargs)


def test_default_args_pool_slots_with_the_automatic_pool_is_refused():
    with _dag(), pytest.raises(InvalidArgumentError, match="default_args pool_slots=2 is not accepted"):
        DltTaskGroup("g", source=github_sample, pipeline_name="p", default_args={"pool_slots": 2})


def test_factory_failing_at_parse_time_suggests_resources():
    def broken_source() -> Any:
        raise RuntimeError("no network at parse time")

    with _dag(), pytest.raises(SourceResolutionError, match="pass resources=") as error:
        DltTaskGroup("g", source=broken_source, pipeline_name="p")
    assert "no network at parse time" in str(error.value)


# ---------------------------------------------------------------- a real run
