"""DltRunOperator through a real Airflow metadata DB (``dag.test()``), asserting rows in DuckDB."""

from __future__ import annotations

import uuid
from typing import Any

import pendulum
import pytest
from github_sample_source import github_sample
from support.dag_runs import duckdb_counts, run_dag_file
from support.sample_data import expected_sample_counts

from airflow_dlt_provider import DltRunOperator
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS
from airflow_dlt_provider.exceptions import InvalidArgumentError, SourceResolutionError, UnknownResourceError

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG
else:
    from airflow import DAG


def _dag(dag_id: str, **dag_args: Any) -> DAG:
    return DAG(
        dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, **dag_args
    )


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _run_single(dags_folder, source: str, *, pipeline_name: str, **kwargs):
    """Run a one-task DAG file; ``source`` is Python code evaluated in the DAG file."""
    arguments = "".join(f", {key}={value!r}" for key, value in kwargs.items())
    body = f"DltRunOperator(task_id='load', source={source}, pipeline_name={pipeline_name!r}, dataset_name='raw'{arguments})"
    result = run_dag_file(
        dags_folder, _unique("dag"), body, imports="from github_sample_source import github_sample"
    )
    assert result.state == "success", result.task_states
    return result


def test_source_object_loads_every_table(dags_folder, sample_counts):
    pipeline = _unique("obj")
    result = _run_single(dags_folder, "github_sample()", pipeline_name=pipeline)

    assert duckdb_counts(pipeline, "raw") == sample_counts
    summary = result.xcom("load")
    assert summary["rows"] == sample_counts
    assert summary["pipeline_name"] == pipeline
    assert summary["destination"] == "duckdb"
    assert summary["dataset_name"] == "raw"
    assert len(summary["load_ids"]) == 1
    assert summary["first_run"] is True
    assert set(summary["schema_changes"]["new_tables"]) == set(sample_counts)
    assert "title" in summary["schema_changes"]["new_columns"]["issues"]
    assert set(summary["columns"]) == set(sample_counts)
    assert summary["columns"]["issues"]["title"] == "text"
    assert summary["columns"]["issues"]["_dlt_load_id"] == "text"


def test_factory_with_templated_kwargs(dags_folder):
    pipeline = _unique("factory")
    result = _run_single(
        dags_folder,
        "github_sample",
        pipeline_name=pipeline,
        source_kwargs={"repos": ["{{ 'dlt' }}", "airflow"]},
    )
    expected = expected_sample_counts({"dlt", "airflow"})
    assert duckdb_counts(pipeline, "raw") == expected
    assert result.xcom("load")["rows"] == expected


def test_import_string_and_second_run_is_not_first(dags_folder, sample_counts):
    pipeline = _unique("import")
    _run_single(dags_folder, "'github_sample_source:github_sample'", pipeline_name=pipeline)
    second = _run_single(dags_folder, "'github_sample_source:github_sample'", pipeline_name=pipeline)

    # merge on primary keys: loading the same data twice keeps the row counts
    assert duckdb_counts(pipeline, "raw") == sample_counts
    summary = second.xcom("load")
    assert summary["first_run"] is False
    assert summary["schema_changes"]["new_tables"] == []


def test_resource_subset_loads_only_those_resources(dags_folder):
    pipeline = _unique("subset")
    result = _run_single(dags_folder, "github_sample", pipeline_name=pipeline, resources=["users"])
    counts = expected_sample_counts()
    assert duckdb_counts(pipeline, "raw") == {"users": counts["users"]}
    assert result.xcom("load")["rows"] == {"users": counts["users"]}


def test_refresh_drop_sources_drops_tables_not_in_the_run(dags_folder, sample_counts):
    pipeline = _unique("refresh")
    _run_single(dags_folder, "github_sample", pipeline_name=pipeline)
    assert set(duckdb_counts(pipeline, "raw")) == set(sample_counts)

    _run_single(
        dags_folder,
        "github_sample",
        pipeline_name=pipeline,
        resources=["users"],
        run_kwargs={"refresh": "drop_sources"},
    )
    assert duckdb_counts(pipeline, "raw") == {"users": sample_counts["users"]}


def test_write_disposition_replace_and_append_are_honoured(dags_folder, sample_counts):
    pipeline = _unique("disposition")
    for _ in range(2):
        _run_single(
            dags_folder,
            "github_sample",
            pipeline_name=pipeline,
            resources=["users"],
            run_kwargs={"write_disposition": "append"},
        )
    assert duckdb_counts(pipeline, "raw") == {"users": 2 * sample_counts["users"]}
    _run_single(
        dags_folder,
        "github_sample",
        pipeline_name=pipeline,
        resources=["users"],
        run_kwargs={"write_disposition": "replace"},
    )
    assert duckdb_counts(pipeline, "raw") == {"users": sample_counts["users"]}


def test_loader_file_format_is_honoured(dags_folder, sample_counts):
    pipeline = _unique("parquet")
    result = _run_single(
        dags_folder,
        "github_sample",
        pipeline_name=pipeline,
        resources=["users"],
        run_kwargs={"loader_file_format": "parquet"},
    )
    assert result.xcom("load")["rows"] == {"users": sample_counts["users"]}


def test_unknown_resource_names_fail_at_parse_time_and_list_available():
    with pytest.raises(UnknownResourceError) as error, _dag(_unique("dag")):
        DltRunOperator(task_id="t", source=github_sample(), pipeline_name="p", resources=["userz"])
    message = str(error.value)
    assert "'userz'" in message
    for name in ("users", "issues", "comments"):
        assert name in message


def test_import_string_that_does_not_resolve():
    with pytest.raises(SourceResolutionError, match="no_such_module"), _dag(_unique("dag")):
        DltRunOperator(task_id="t", source="no_such_module:src", pipeline_name="p")
    with pytest.raises(SourceResolutionError, match="'not_there'"), _dag(_unique("dag")):
        DltRunOperator(task_id="t", source="github_sample_source:not_there", pipeline_name="p")
    with pytest.raises(SourceResolutionError, match="package.module:attribute"), _dag(_unique("dag")):
        DltRunOperator(task_id="t", source="github_sample_source", pipeline_name="p")


def test_source_of_the_wrong_type():
    with pytest.raises(SourceResolutionError, match="int.*DltSource"), _dag(_unique("dag")):
        DltRunOperator(task_id="t", source=42, pipeline_name="p")


def test_default_pool_is_named_after_the_pipeline():
    with _dag(_unique("dag")):
        default = DltRunOperator(task_id="a", source=github_sample, pipeline_name="gh")
        custom = DltRunOperator(task_id="b", source=github_sample, pipeline_name="gh", pool="mine")
    assert default.pool == "dlt_gh"
    assert default.pool_slots == 1
    assert custom.pool == "mine"


def test_worker_resources_reach_airflow_and_resources_stay_dlt_names():
    with _dag(_unique("dag")):
        task = DltRunOperator(
            task_id="t",
            source=github_sample,
            pipeline_name="gh",
            resources=["users"],
            worker_resources={"cpus": 2, "ram": 2048},
        )
    assert task.resource_names == ["users"]
    assert (task.resources.cpus.qty, task.resources.ram.qty) == (2, 2048)


def test_a_group_passes_worker_resources_through_default_args():
    from airflow_dlt_provider import DltTaskGroup

    with _dag(_unique("dag")) as dag:
        DltTaskGroup(
            "g",
            source=github_sample,
            pipeline_name="gh",
            resources=["users", "issues"],
            default_args={"worker_resources": {"cpus": 3}},
        )
    assert {task.task_id: task.resources.cpus.qty for task in dag.tasks} == {"g.users": 3, "g.issues": 3}
    assert {task.task_id: task.resource_names for task in dag.tasks} == {
        "g.users": ["users"],
        "g.issues": ["issues"],
    }


@pytest.mark.parametrize("where", ["group", "dag"])
def test_a_mapped_group_passes_worker_resources_to_every_map_index(where):
    """partial() keeps only the default_args BaseOperator knows; the group passes the operator's own one."""
    from airflow_dlt_provider import DltTaskGroup
    from airflow_dlt_provider.operators.mapped import DltMappedRunOperator

    default_args = {"default_args": {"worker_resources": {"cpus": 3}}}
    with _dag(_unique("dag"), max_active_runs=1, **(default_args if where == "dag" else {})):
        group = DltTaskGroup(
            "g",
            source="github_sample_source:github_sample",
            pipeline_name="gh",
            decompose="mapped",
            **(default_args if where == "group" else {}),
        )
    partial_kwargs = group.load_task.partial_kwargs
    assert partial_kwargs["worker_resources"] == {"cpus": 3}
    map_index = DltMappedRunOperator(
        task_id="one_map_index",
        source="github_sample_source:github_sample",
        group_pipeline_name="gh",
        component={"name": "users", "resources": ["users"], "pipeline_name": "gh__users"},
        worker_resources=partial_kwargs["worker_resources"],
    )
    assert map_index.resources.cpus.qty == 3


def test_a_source_object_refuses_factory_arguments_with_one_message_everywhere():
    """The operator (parse time), the run (instantiate_source) and `airflow-dlt check` share one check."""
    from types import SimpleNamespace

    from airflow_dlt_provider.authoring.full_check import _check_task
    from airflow_dlt_provider.authoring.sources import instantiate_source, resolve_source_spec

    expected = "is already a source object, so source_kwargs/source_conn_ids cannot be applied"
    with pytest.raises(InvalidArgumentError, match=expected), _dag(_unique("dag")):
        DltRunOperator(task_id="t", source=github_sample(), pipeline_name="p", source_conn_ids={"a": "c"})
    spec = resolve_source_spec(github_sample())
    with pytest.raises(SourceResolutionError, match=expected):
        instantiate_source(spec, {"repos": ["x"]})
    task = SimpleNamespace(_source_spec=spec, source_kwargs={"repos": ["x"]}, source_conn_ids={})
    (finding,) = _check_task(task, "dag.t", {})
    assert finding.kind == "error" and expected in finding.message
