"""Names from user input: pipeline names checked at parse time, paths from ids that stay inside their base."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
from github_sample_source import github_sample

from airflow_dlt_provider import DltRunOperator, DltTaskGroup
from airflow_dlt_provider.authoring.names import (
    MAX_DERIVED_PIPELINE_NAME_BYTES,
    MAX_PIPELINE_NAME_BYTES,
    check_pipeline_name,
    derived_pipeline_name,
    pipeline_name_problem,
)
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.runtime.workdir import (
    default_duckdb_path,
    path_part,
    task_working_dir,
    working_dir_base,
)

ATTACKS = [".", "..", "/", "../..", "../../etc/x", "", "a/../../b", "\\", "日本", "x" * 300, "..." * 100]


def _dag(dag_id: str = "names") -> Any:
    from airflow import DAG

    return DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))


# ---------------------------------------------------------------- pipeline names


@pytest.mark.parametrize(
    "name",
    ["github", "my pipeline", "pïpé_日本", "a-b_c", "x" * MAX_PIPELINE_NAME_BYTES, "Sales 2026"],
)
def test_names_dlt_accepts_are_accepted(name):
    assert check_pipeline_name(name) == name


@pytest.mark.parametrize(
    "name, problem",
    [
        ("../../etc/x", "'.', '/'"),
        ("..", "'.'"),
        ("x" * 300, "300 bytes"),
        ("日" * 40, "120 bytes"),
        ("a%b", "'%'"),
        (" lead", "whitespace"),
        ("CON", "reserved"),
        ("", "non-empty"),
        (None, "non-empty"),
    ],
)
def test_rejected_names_say_what_was_wrong_and_what_is_accepted(name, problem):
    with pytest.raises(InvalidArgumentError) as error:
        check_pipeline_name(name)
    message = str(error.value)
    assert message.startswith(f"pipeline_name={name!r}"[:60])
    assert problem in message
    assert f"at most {MAX_PIPELINE_NAME_BYTES} bytes" in message


# the contract with dlt's own check is tests/integration/seams/test_dlt_internals.py::test_file_name_rule_agrees_with_dlt


def test_group_and_operator_reject_bad_names_at_parse_time():
    with _dag(), pytest.raises(InvalidArgumentError, match=r"pipeline_name='\.\./\.\./etc/x'"):
        DltTaskGroup("g", source=github_sample, resources=["users"], pipeline_name="../../etc/x")
    with _dag(), pytest.raises(InvalidArgumentError, match="pipeline_name="):
        DltRunOperator(task_id="t", source=github_sample, resources=["users"], pipeline_name="x" * 300)
    with _dag(), pytest.raises(InvalidArgumentError, match="pipeline_name='..'"):
        DltTaskGroup("g2", source=github_sample, resources=["users"], pipeline_name="..")


def test_isolated_pipeline_names_and_their_pools_fit():
    name = "é" * (MAX_PIPELINE_NAME_BYTES // 2)
    with _dag():
        group = DltTaskGroup(
            "g",
            source=github_sample,
            resources=["users", "issues"],
            pipeline_name=name,
            decompose="parallel-isolated",
        )
    for task in group.children.values():
        assert len(task.pipeline_name.encode()) <= MAX_DERIVED_PIPELINE_NAME_BYTES
        assert len(task.pool) <= 256
        check_pipeline_name(task.pipeline_name, max_bytes=MAX_DERIVED_PIPELINE_NAME_BYTES)


def test_derived_names_never_hold_a_dot_and_stay_distinct():
    dotted, underscored = derived_pipeline_name("p", "a.b"), derived_pipeline_name("p", "a_b")
    assert "." not in dotted and dotted != underscored
    assert pipeline_name_problem(dotted, MAX_DERIVED_PIPELINE_NAME_BYTES) is None
    long = derived_pipeline_name("日" * 33, "t" * 250)
    assert len(long.encode()) <= MAX_DERIVED_PIPELINE_NAME_BYTES
    assert long != derived_pipeline_name("日" * 33, "t" * 249 + "u")


# ---------------------------------------------------------------- paths from ids


@pytest.mark.parametrize("value", ATTACKS)
def test_a_path_part_is_one_plain_folder_name(value):
    part = path_part(value)
    assert part not in ("", ".", "..")
    assert "/" not in part and "\\" not in part and not part.startswith(".")
    assert len(part) <= 120
    assert part.isascii()


def test_distinct_values_never_share_a_path_part():
    values = ATTACKS + ["my pipeline", "my_pipeline", "pïpé_日本", "pópá_中国", "p_p____"]
    assert len({path_part(v) for v in values}) == len(set(values))


@pytest.mark.parametrize(
    "dag_id, task_id, run_id", [("..", "..", "."), ("/", "..", ".."), ("a", "b", "/etc")]
)
def test_task_working_dir_stays_strictly_inside_the_base(dag_id, task_id, run_id):
    ti = SimpleNamespace(dag_id=dag_id, task_id=task_id, map_index=3)
    path = task_working_dir({"ti": ti, "run_id": run_id})
    base = working_dir_base().resolve()
    assert path.resolve().is_relative_to(base)
    assert len(path.resolve().relative_to(base).parts) == 4  # dag / task / run / map_index=3


def test_unicode_and_spaced_pipeline_names_get_their_own_duckdb_files():
    files = {default_duckdb_path(n) for n in ("pïpé_日本", "pópá_中国", "my pipeline", "my_pipeline")}
    assert len(files) == 4
    assert default_duckdb_path("github") == default_duckdb_path("github").parent / "github.duckdb"
    assert all(isinstance(f, Path) and f.name.isascii() for f in files)
