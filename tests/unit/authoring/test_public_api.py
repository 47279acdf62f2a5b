"""The API a DAG author sees: typed vocabularies, old names that still work and warn, exports, error fields."""

from __future__ import annotations

import typing
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from github_sample_source import github_sample

import airflow_dlt_provider
from airflow_dlt_provider import DltRunOperator, DltTaskGroup
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS
from airflow_dlt_provider.authoring import arguments, plan, vocabulary
from airflow_dlt_provider.exceptions import (
    DltProviderDeprecationWarning,
    InvalidArgumentError,
    RowExpectationError,
    SchemaChangeError,
    UnprotectedPipelineWarning,
)

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG
else:
    from airflow import DAG


def _dag(dag_id: str = "api", **kwargs: Any) -> Any:
    return DAG(
        dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, **kwargs
    )


def _structure(dag: Any) -> dict[str, tuple[list[str], str | None]]:
    return {t.task_id: (sorted(t.upstream_task_ids), t.pool) for t in dag.tasks}


def _only(records: list[warnings.WarningMessage], category: type[Warning]) -> list[warnings.WarningMessage]:
    return [r for r in records if issubclass(r.category, category)]


# ---------------------------------------------------------------- vocabularies


@pytest.mark.parametrize(
    ("literal", "accepted"),
    [
        (vocabulary.Decompose, plan.DECOMPOSE_MODES),
        (vocabulary.OnSchemaChange, arguments.ON_SCHEMA_CHANGE_VALUES),
        (vocabulary.RowExpectationAction, arguments.EXPECT_ROWS_ACTIONS),
        (vocabulary.ParseCache, arguments.PARSE_CACHE_MODES),
        (vocabulary.WriteDisposition, arguments.WRITE_DISPOSITIONS),
        (vocabulary.LoaderFileFormat, arguments.LOADER_FILE_FORMATS),
        (vocabulary.RefreshMode, arguments.REFRESH_MODES),
        (vocabulary.SchemaEvolutionMode, arguments.SCHEMA_EVOLUTION_MODES),
        (vocabulary.SchemaContractEntity, arguments.SCHEMA_CONTRACT_ENTITIES),
    ],
)
def test_each_literal_type_is_what_the_checks_accept(literal, accepted):
    assert typing.get_args(literal) == tuple(accepted)


def test_run_kwargs_type_names_every_accepted_key():
    assert set(vocabulary.RunKwargs.__annotations__) == set(arguments.ACCEPTED_RUN_KWARGS)


@pytest.mark.parametrize(
    ("arguments_", "message"),
    [
        ({"decompose": "paralel"}, "decompose='paralel' is not one of: none, serialize, independent"),
        ({"on_schema_change": "stop"}, "on_schema_change='stop' is not one of: warn, fail, ignore"),
        (
            {"expect_rows": {"t": (1, None, "stop")}},
            "expect_rows['t'] action='stop' is not one of: warn, fail",
        ),
        ({"parse_cache": "redis"}, "parse_cache='redis' is not one of: None (no cache), 'variable', 'file'"),
        (
            {"run_kwargs": {"refresh": "drop"}},
            "run_kwargs['refresh']='drop' is not accepted; expected one of: drop_sources, drop_resources, drop_data",
        ),
        ({"progress_period_seconds": 0}, "progress_period_seconds=0 is not accepted; expected a positive"),
    ],
)
def test_a_misspelt_mode_or_action_names_what_is_accepted(arguments_, message):
    with _dag(), pytest.raises(InvalidArgumentError) as error:
        DltTaskGroup("g", source=github_sample, pipeline_name="p", **arguments_)
    assert message in str(error.value)


# ---------------------------------------------------------------- old names: still work, and warn


def test_decompose_parallel_is_independent_with_a_warning_at_the_dag_file_line():
    with _dag() as old_dag, pytest.warns(DltProviderDeprecationWarning) as records:
        old = DltTaskGroup("g", source=github_sample, pipeline_name="p", decompose="parallel")
    with _dag() as new_dag, warnings.catch_warnings():
        warnings.simplefilter("error", DltProviderDeprecationWarning)
        DltTaskGroup("g", source=github_sample, pipeline_name="p", decompose="independent")

    assert (
        _structure(old_dag)
        == _structure(new_dag)
        == {
            "g.users": ([], "dlt_p"),
            "g.issues": (["g.users"], "dlt_p"),
        }
    )
    assert old.decompose == old.plan.decompose == "independent"
    (record,) = _only(records.list, DltProviderDeprecationWarning)
    assert "decompose='parallel' is deprecated" in str(record.message)
    assert "use decompose='independent'" in str(record.message)
    assert Path(record.filename) == Path(__file__)  # the DAG file's line, not the provider's


def test_operator_kwargs_still_reach_every_task_with_a_warning():
    with (
        _dag() as dag,
        pytest.warns(DltProviderDeprecationWarning, match=r"pass default_args=\{'retries': 3"),
    ):
        DltTaskGroup(
            "g",
            source=github_sample,
            pipeline_name="p",
            operator_kwargs={"retries": 3, "execution_timeout": timedelta(minutes=7)},
        )
    assert {(t.retries, t.execution_timeout) for t in dag.tasks} == {(3, timedelta(minutes=7))}


def test_default_args_reach_the_mapped_tasks_too():
    with _dag(max_active_runs=1) as dag, warnings.catch_warnings():
        warnings.simplefilter("error", DltProviderDeprecationWarning)
        DltTaskGroup(
            "g",
            source="github_sample_source:github_sample",
            pipeline_name="p",
            decompose="mapped",
            default_args={"retries": 4, "queue": "dlt"},
            progress_period_seconds=5,
        )
    discover, load = dag.task_dict["g.discover"], dag.task_dict["g.load"]
    assert (discover.retries, discover.queue) == (4, "dlt")
    assert (load.retries, load.queue) == (4, "dlt")
    assert load.partial_kwargs["progress_period_seconds"] == 5


def test_expect_rows_action_still_applies_with_a_warning():
    with _dag() as dag, pytest.warns(DltProviderDeprecationWarning, match="expect_rows_action is deprecated"):
        DltTaskGroup(
            "g",
            source=github_sample,
            pipeline_name="p",
            expect_rows={"users": (1, None), "issues": (None, 10, "warn")},
            expect_rows_action="fail",
        )
    users = dag.task_dict["g.users"]
    assert users.expect_rows["users"] == arguments.RowExpectation(1, None, "fail")
    assert dag.task_dict["g.issues"].expect_rows["issues"] == arguments.RowExpectation(None, 10, "warn")

    with _dag(), pytest.warns(DltProviderDeprecationWarning, match="expect_rows_action is deprecated"):
        task = DltRunOperator(
            task_id="t",
            source=github_sample,
            pipeline_name="p",
            expect_rows={"users": (1, 5)},
            expect_rows_action="fail",
        )
    assert task.expect_rows == {"users": arguments.RowExpectation(1, 5, "fail")}


def test_the_new_spelling_of_an_expectation_warns_nothing():
    with _dag() as dag, warnings.catch_warnings():
        warnings.simplefilter("error", DltProviderDeprecationWarning)
        DltTaskGroup(
            "g",
            source=github_sample,
            pipeline_name="p",
            expect_rows={"users": airflow_dlt_provider.RowExpectation(min=1, action="fail")},
        )
    assert dag.task_dict["g.users"].expect_rows["users"] == (1, None, "fail")


# ---------------------------------------------------------------- pool=None, progress, templates


def test_pool_none_warns_once_per_group_and_per_lone_task():
    with _dag() as dag, pytest.warns(UnprotectedPipelineWarning) as records:
        DltTaskGroup("g", source=github_sample, pipeline_name="p", pool=None)
        DltRunOperator(task_id="lone", source=github_sample, pipeline_name="q", pool=None)
    messages = [str(r.message) for r in _only(records.list, UnprotectedPipelineWarning)]
    assert len(messages) == 2, messages  # the group's two tasks do not repeat the group's warning
    assert messages[0].startswith("pool=None: the tasks of pipeline 'p' run in Airflow's default pool")
    assert "one-slot pool 'dlt_p'" in messages[0]
    assert "pipeline 'q'" in messages[1]
    assert {t.pool for t in dag.tasks} == {"default_pool"}


def test_the_automatic_pool_and_a_mapped_group_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnprotectedPipelineWarning)
        with _dag():
            DltTaskGroup("g", source=github_sample, pipeline_name="p")
        with _dag("mapped", max_active_runs=1):  # unique components and one active run guard a mapped group
            DltTaskGroup(
                "m",
                source="github_sample_source:github_sample",
                pipeline_name="m",
                decompose="mapped",
                pool=None,
            )


def test_progress_period_seconds_is_set_on_the_group():
    with _dag() as dag:
        DltTaskGroup("g", source=github_sample, pipeline_name="p", progress_period_seconds=5)
        DltTaskGroup("h", source=github_sample, pipeline_name="p2")
    assert {t.task_id: t.progress_period_seconds for t in dag.tasks} == {
        "g.users": 5.0,
        "g.issues": 5.0,
        "h.users": 30.0,
        "h.issues": 30.0,
    }


def test_source_conn_ids_are_templated_like_destination_conn_id():
    from airflow_dlt_provider.operators.mapped import DltDiscoverOperator

    assert "source_conn_ids" in DltRunOperator.template_fields
    assert "destination_conn_id" in DltRunOperator.template_fields
    assert "source_conn_ids" in DltDiscoverOperator.template_fields
    with _dag():
        task = DltRunOperator(
            task_id="t",
            source="github_sample_source:github_sample",
            pipeline_name="p",
            source_conn_ids={"credentials": "db_{{ params.env }}"},
            destination_conn_id="wh_{{ params.env }}",
        )
    task.render_template_fields({"params": {"env": "prod"}})
    assert task.source_conn_ids == {"credentials": "db_prod"}
    assert task.destination_conn_id == "wh_prod"


# ---------------------------------------------------------------- exports


def test_every_public_name_resolves_from_the_package_root():
    for name in airflow_dlt_provider.__all__:
        assert getattr(airflow_dlt_provider, name) is not None, name
    from airflow_dlt_provider.exceptions import ConcurrentDagRunError, PipelineBusyError
    from airflow_dlt_provider.operators.mapped import DltDiscoverOperator, DltMappedRunOperator

    assert airflow_dlt_provider.DltMappedRunOperator is DltMappedRunOperator
    assert airflow_dlt_provider.DltDiscoverOperator is DltDiscoverOperator
    assert airflow_dlt_provider.SchemaChangeError is SchemaChangeError
    assert airflow_dlt_provider.RowExpectationError is RowExpectationError
    assert airflow_dlt_provider.PipelineBusyError is PipelineBusyError
    assert airflow_dlt_provider.ConcurrentDagRunError is ConcurrentDagRunError
    assert airflow_dlt_provider.Decompose is vocabulary.Decompose
    assert airflow_dlt_provider.__all__ == ["__version__", *airflow_dlt_provider._PUBLIC_NAMES]
    assert set(airflow_dlt_provider.__all__) <= set(dir(airflow_dlt_provider))


def test_importing_the_package_root_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, airflow_dlt_provider as p; "
        "assert 'dlt' not in sys.modules and 'airflow_dlt_provider.operators.run' not in sys.modules; "
        "p.Decompose; p.SchemaChangeError; "
        "assert 'dlt' not in sys.modules, 'a type or an error imported dlt'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


# ---------------------------------------------------------------- errors a callback can read
