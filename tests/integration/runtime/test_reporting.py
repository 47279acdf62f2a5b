"""The task log tells the story of a run: rows per table per step, time per step, schema changes."""

from __future__ import annotations

import logging
import uuid

from support.sources.schema_changes import people

from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.runtime import pipeline_run
from airflow_dlt_provider.runtime.reporting import schema_change_table


def _run(tmp_path, pipeline: str, caplog, **source_kwargs) -> tuple[dict, list[logging.LogRecord]]:
    request = pipeline_run.RunRequest(
        source=resolve_source_spec(people),
        pipeline_name=pipeline,
        source_kwargs=source_kwargs,
        dataset_name="raw",
        working_dir=tmp_path / uuid.uuid4().hex[:6],
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="airflow_dlt_provider"):
        summary = pipeline_run.run(request)
    return summary, [r for r in caplog.records if r.name == "airflow_dlt_provider.runtime.reporting"]


def _cells(story: str) -> dict[str, list[str]]:
    """The rows of the story's table, by table name."""
    lines = story.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if line.split()[:4] == ["table", "extracted", "normalized", "loaded"]
    )
    return {line.split()[0]: line.split()[1:] for line in lines[start + 2 :]}


def test_story_has_rows_per_table_per_step_and_time_per_step(tmp_path, caplog):
    pipeline = f"story_{uuid.uuid4().hex[:8]}"
    summary, records = _run(tmp_path, pipeline, caplog, rows=5, tags=2)
    assert summary["rows"] == {"users": 5, "users__tags": 10}

    story = next(
        r.getMessage() for r in records if r.getMessage().startswith(f"dlt pipeline {pipeline!r} ->")
    )
    head, steps = story.splitlines()[:2]
    assert "duckdb dataset 'raw'" in head
    assert "15 rows in 2 tables" in head
    assert summary["load_ids"][0] in head
    assert [part.split()[0] for part in steps.removeprefix("steps: ").split(", ")] == [
        "extract",
        "normalize",
        "load",
    ]
    # the child table only exists after normalization
    assert _cells(story) == {"users": ["5", "5", "5"], "users__tags": ["-", "10", "10"]}
    assert len(story.splitlines()) <= 8

    # the first run creates every table: logged, at INFO (everything is new on a first run)
    changes = [r for r in records if r.getMessage().startswith("schema changes")]
    assert [r.levelno for r in changes] == [logging.INFO]
    assert "2 new table(s)" in changes[0].getMessage()


def test_second_run_without_changes_logs_no_schema_change(tmp_path, caplog):
    pipeline = f"story_{uuid.uuid4().hex[:8]}"
    _run(tmp_path, pipeline, caplog)
    summary, records = _run(tmp_path, pipeline, caplog)
    assert summary["first_run"] is False
    assert not [r for r in records if r.getMessage().startswith("schema changes")]


def test_schema_change_table_is_readable():
    table = schema_change_table(
        {
            "new_tables": ["orders"],
            "new_columns": {"orders": [f"c{i}" for i in range(10)], "users": ["nickname", "email"]},
        }
    )
    assert table is not None
    lines = table.splitlines()
    assert lines[0] == "schema changes: 1 new table(s), 2 new column(s) in existing tables"
    assert lines[1].split() == ["table", "change", "columns"]
    assert lines[3].split(maxsplit=3) == [
        "orders",
        "new",
        "table",
        "c0, c1, c2, c3, c4, c5, c6, c7, ... (10 columns)",
    ]
    assert lines[4].split(maxsplit=3) == ["users", "new", "columns", "nickname, email"]
    assert schema_change_table({"new_tables": [], "new_columns": {}}) is None
