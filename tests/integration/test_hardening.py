"""What a user or a trigger controls cannot escape its folder, mix two pipelines or lose rows (DAG runs)."""

from __future__ import annotations

import os
import stat
import textwrap
import uuid
from pathlib import Path

import duckdb
import pendulum
import pytest
from support.dag_runs import asset_events, duckdb_counts, run_dag_file
from support.sources.basic import SECRET_IN_ERROR

from airflow_dlt_provider import DltTaskGroup
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.runtime.workdir import PIPELINES_FOLDER, default_duckdb_path, path_part
from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

IMPORTS = "from support.sources.basic import flaky, tagged, two_tables\nfrom airflow_dlt_provider import DltTaskGroup"


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("pool", ["", ", pool=None"], ids=["pipeline_pool", "no_pool"])
def test_dot_ids_keep_state_inside_the_working_dir_owner_only_and_clean_it_later(
    dags_folder, tmp_path, monkeypatch, pool
):
    """DAG and task id ``..``: the kept folder of a failed run stays under ``[dlt] working_dir``, holds no
    trace with the exception text, is owner-only, and is removed once a later run of the task succeeds.

    In the pipeline's pool the folder is the pipeline's (``.pipelines/<pipeline>``); without it, the task
    instance's (``<dag>/<task>/<run>``), which a later run does not remove (another run may be using it)."""
    outer = tmp_path / "outer"
    work = outer / "inner" / "work"
    monkeypatch.setenv("AIRFLOW__DLT__WORKING_DIR", str(work))
    flag = tmp_path / "fail-now"
    flag.write_text("1")
    pipeline = _unique("dots")
    path = dags_folder / f"{_unique('dots_dag')}.py"
    path.write_text(
        textwrap.dedent(
            f"""
            import pendulum
            from airflow import DAG
            from airflow_dlt_provider import DltRunOperator
            from support.sources.basic import flaky

            with DAG("..", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
                DltRunOperator(task_id="..", source=flaky, source_kwargs={{"fail_flag": {str(flag)!r}}},
                               pipeline_name={pipeline!r}, dataset_name="raw", retries=0,
                               do_xcom_push=False, emit_assets=False{pool})  # the execution API 404s on ".." ids
            """
        )
    )
    try:
        dag = load_dag(path, "..")
        month = 2 if pool else 1  # Airflow 2's dag.test() cannot replace a run of the same date of DAG ".."
        failed = run_dag(dag, logical_date=pendulum.datetime(2026, month, 1, tz="UTC"))
        assert failed.task_states == {"..": "failed"}
        assert sorted(p.name for p in outer.iterdir()) == ["inner"]
        assert sorted(p.name for p in (outer / "inner").iterdir()) == ["work"]
        kept = [p for p in work.rglob(pipeline) if p.is_dir() and p.parent.name != PIPELINES_FOLDER]
        assert len(kept) == 1, kept
        layout = (
            [PIPELINES_FOLDER, pipeline, kept[0].parts[-2], pipeline]  # .pipelines/<pipeline>/<binding>/
            if not pool
            else [path_part(".."), path_part(".."), kept[0].parts[-2], pipeline]
        )
        assert (
            list(kept[0].relative_to(work).parts) == layout
        )  # [<dag>/<task>/<run>|.pipelines/<pipeline>]/<pipeline>
        files = _files(kept[0].parent)
        assert files and not any(f.name == "trace.pickle" for f in files)
        assert not any(SECRET_IN_ERROR.encode() in f.read_bytes() for f in files)
        for folder in [*kept[0].parent.relative_to(work).parents][:-1]:
            assert stat.S_IMODE((work / folder).stat().st_mode) == 0o700, folder
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)

        flag.unlink()
        succeeded = run_dag(dag, logical_date=pendulum.datetime(2026, month, 2, tz="UTC"))
        assert succeeded.task_states == {"..": "success"}
        assert duckdb_counts(pipeline, "raw") == {"things": 4}
        if pool:  # documented: without the pipeline's pool only the task's own folder is removed
            assert kept[0].is_dir()
        else:
            left = [p for p in work.rglob(pipeline) if ".done" not in p.parts]  # done records stay 14 days
            assert left == [], "the kept folder of the failed run was not cleaned"
        assert sorted(p.name for p in (outer / "inner").iterdir()) == ["work"]
    finally:
        path.unlink()


def test_pipelines_whose_names_sanitise_alike_keep_their_own_rows(dags_folder):
    """``pïpé_日本`` and ``pópá_中国`` used to share ``p_p____.duckdb``: the second replace wiped the first."""
    suffix = uuid.uuid4().hex[:6]
    first, second = f"pïpé_日本_{suffix}", f"pópá_中国_{suffix}"
    body = f"""
        a = DltRunOperator(task_id="a", source=tagged, source_kwargs={{"tag": "first", "rows": 2}},
                           pipeline_name={first!r}, dataset_name="shared")
        b = DltRunOperator(task_id="b", source=tagged, source_kwargs={{"tag": "second", "rows": 5}},
                           pipeline_name={second!r}, dataset_name="shared")
        a >> b
    """
    result = run_dag_file(dags_folder, _unique("unicode"), body, IMPORTS)
    assert result.task_states == {"a": "success", "b": "success"}
    assert default_duckdb_path(first) != default_duckdb_path(second)
    for name, tag, rows in ((first, "first", 2), (second, "second", 5)):
        with duckdb.connect(str(default_duckdb_path(name)), read_only=True) as con:
            assert con.execute("SELECT tag, count(*) FROM shared.items GROUP BY tag").fetchall() == [
                (tag, rows)
            ]


def test_without_dataset_name_dlt_configuration_decides(dags_folder, monkeypatch):
    pipeline = _unique("cfgds")
    monkeypatch.setenv(f"PIPELINES__{pipeline.upper()}__DATASET_NAME", "from_config")
    body = f"DltRunOperator(task_id='load', source=tagged, pipeline_name={pipeline!r})"
    result = run_dag_file(dags_folder, _unique("cfgds_dag"), body, IMPORTS)
    assert result.task_states == {"load": "success"}
    assert result.xcom("load")["dataset_name"] == "from_config"
    assert duckdb_counts(pipeline, "from_config") == {"items": 3}


def test_summary_and_assets_name_the_dataset_dlt_created(dags_folder):
    pipeline = _unique("odd_ds")
    raw = 'x"; drop table y; --'
    body = (
        f"DltRunOperator(task_id='load', source=tagged(), pipeline_name={pipeline!r}, dataset_name={raw!r})"
    )
    result = run_dag_file(dags_folder, _unique("odd_ds_dag"), body, IMPORTS)
    assert result.task_states == {"load": "success"}
    used = result.xcom("load")["dataset_name"]
    with duckdb.connect(str(default_duckdb_path(pipeline)), read_only=True) as con:
        schemas = {
            row[0] for row in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()
        }
    assert used != raw and used in schemas
    assert duckdb_counts(pipeline, used) == {"items": 3}
    events = asset_events(result.dag_id, result.run_id)
    assert f"dlt://duckdb.{pipeline}/{used}/items" in events
    assert all(extra["dataset_name"] == used for extra in events.values())
    assert not any("drop" in uri and "table" in uri and "%" in uri for uri in events)


def test_drop_sources_is_refused_for_a_decomposed_group():
    from airflow import DAG

    with DAG("refresh_dag", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        with pytest.raises(InvalidArgumentError, match="refresh='drop_resources'"):
            DltTaskGroup(
                "g",
                source="support.sources.basic:two_tables",
                resources=["alpha", "beta"],
                pipeline_name="refresh_p",
                run_kwargs={"refresh": "drop_sources"},
            )
        DltTaskGroup(  # one task may drop its whole source
            "one",
            source="support.sources.basic:two_tables",
            pipeline_name="refresh_one",
            decompose="none",
            run_kwargs={"refresh": "drop_sources"},
        )


def test_drop_resources_in_a_group_reloads_every_table_once_per_run(dags_folder):
    pipeline = _unique("refresh")
    dag_id = _unique("refresh_dag")
    body = f"""
        DltTaskGroup("g", source=two_tables, pipeline_name={pipeline!r}, dataset_name="raw",
                     run_kwargs={{"refresh": "drop_resources"}})
    """
    from support.dag_runs import write_dag

    path = write_dag(dags_folder, dag_id, body, IMPORTS)
    try:
        dag = load_dag(path, dag_id)
        for day in (1, 2):
            result = run_dag(dag, logical_date=pendulum.datetime(2026, 1, day, tz="UTC"))
            assert set(result.task_states.values()) == {"success"}, result.task_states
            # append tables: without the refresh they would hold 3 rows per run
            assert duckdb_counts(pipeline, "raw") == {"alpha": 3, "beta": 3}
    finally:
        path.unlink()


def test_secret_is_not_in_the_kept_folder_of_a_failed_group_task(dags_folder, tmp_path, monkeypatch):
    """The same guarantee for the default working dir ($AIRFLOW_HOME/dlt/work)."""
    flag = tmp_path / "fail"
    flag.write_text("1")
    pipeline = _unique("secretkept")
    body = f"""
        DltTaskGroup("g", source=flaky, source_kwargs={{"fail_flag": {str(flag)!r}}},
                     pipeline_name={pipeline!r}, dataset_name="raw", default_args={{"retries": 0}})
    """
    result = run_dag_file(dags_folder, _unique("secret_dag"), body, IMPORTS)
    assert set(result.task_states.values()) == {"failed"}
    from airflow_dlt_provider.runtime.workdir import working_dir_base

    kept = [p for p in working_dir_base().rglob(pipeline) if p.is_dir()]
    assert kept
    for folder in kept:
        for file in _files(folder.parent):
            assert SECRET_IN_ERROR.encode() not in file.read_bytes(), file
            assert not os.access(file, os.X_OK) or file.is_dir()


def test_a_missing_source_connection_names_the_factory_argument(dags_folder, capfd):
    pipeline = _unique("nosrcconn")
    body = f"""
        DltRunOperator(task_id="load", source=flaky, source_conn_ids={{"fail_flag": "adp_missing_conn"}},
                       pipeline_name={pipeline!r}, retries=2)
    """
    result = run_dag_file(dags_folder, _unique("nosrcconn_dag"), body, IMPORTS)
    assert result.task_states == {"load": "failed"}  # not up_for_retry: a retry cannot fix it
    output = "".join(capfd.readouterr())
    assert "source_conn_ids['fail_flag']: Airflow connection 'adp_missing_conn'" in output
