"""The UI's read side (summaries -> runs) and its HTML/SVG, without Airflow: aggregation, chart, escaping."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow_dlt_provider.plugins import read, render

LINKS = render.Links(dlt_root="/dlt", airflow_root="")


def _record(run: int, task: str, summary: Any, map_index: int = -1, dag_id: str = "d") -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "run_id": f"run_{run}",
        "task_id": task,
        "map_index": map_index,
        "value": summary,
        "run_state": "success",
        "run_after": datetime(2026, 3, run, tzinfo=timezone.utc),
    }


def _summary(rows: dict[str, int], pipeline: str = "p", **extra: Any) -> dict[str, Any]:
    return {"pipeline_name": pipeline, "destination": "duckdb", "dataset_name": "raw", "rows": rows, **extra}


def test_tasks_and_map_indexes_of_one_dag_run_add_up_to_one_run() -> None:
    records = [  # newest DAG run first, as the metadata DB query returns them
        _record(2, "g.orders", _summary({"orders": 4}, load_ids=["l3"]), map_index=0),
        _record(2, "g.orders", _summary({"orders": 6}, load_ids=["l4"]), map_index=1),
        _record(2, "g.users", _summary({"users": 1}, load_ids=["l5"])),
        _record(1, "g.orders", _summary({"orders": 3}, load_ids=["l1"])),
        _record(1, "other", {"not": "a summary"}),
        _record(1, "g.x", _summary({"t": 9}, pipeline="q")),
    ]
    overviews = read.pipelines(records)
    assert [o.pipeline_name for o in overviews] == ["p", "q"]
    assert overviews[0].as_json()["rows"] == {"orders": 10, "users": 1}
    assert overviews[0].runs_recorded == 2

    detail = read.pipeline_detail(records, "p")
    assert detail is not None
    assert [run.run_id for run in detail.runs] == ["run_2", "run_1"]
    assert detail.runs[0].load_ids == ["l3", "l4", "l5"]
    assert [(t.task_id, t.map_index) for t in detail.runs[0].tasks] == [
        ("g.orders", 0),
        ("g.orders", 1),
        ("g.users", -1),
    ]
    assert read.pipeline_detail(records, "missing") is None


def test_tables_take_the_newest_columns_and_changes_are_listed_per_run() -> None:
    records = [
        _record(
            2,
            "t",
            _summary(
                {"orders": 2},
                columns={"orders": {"id": "bigint", "note": "text"}},
                schema_changes={"new_tables": [], "new_columns": {"orders": ["note"]}},
            ),
        ),
        _record(
            1,
            "t",
            _summary(
                {"orders": 1},
                columns={"orders": {"id": "bigint"}},
                schema_changes={"new_tables": ["orders"], "new_columns": {"orders": ["id"]}},
            ),
        ),
    ]
    detail = read.pipeline_detail(records, "p")
    assert detail is not None
    assert detail.tables == {"orders": {"id": "bigint", "note": "text"}}
    data = detail.as_json()
    assert [c["run_id"] for c in data["schema_changes"]] == ["run_2", "run_1"]
    assert data["tables"] == [
        {
            "name": "orders",
            "columns": [{"name": "id", "data_type": "bigint"}, {"name": "note", "data_type": "text"}],
        }
    ]


def test_chart_has_one_point_per_run_and_table() -> None:
    records = [_record(day, "t", _summary({"a": day, "b": 2 * day})) for day in (3, 2, 1)]
    detail = read.pipeline_detail(records, "p")
    assert detail is not None
    svg = render.rows_chart(detail.runs)
    assert svg.count('data-table="a"') == 3 and svg.count('data-table="b"') == 3
    assert svg.count("<polyline") == 2


def test_untrusted_names_are_escaped_everywhere() -> None:
    evil = '<script>alert("x")</script>'
    summary = _summary(
        {evil: 1},
        pipeline=evil,
        columns={evil: {evil: evil}},
        schema_changes={"new_tables": [evil], "new_columns": {}},
        load_ids=[evil],
        row_expectations={evil: {"rows": 1, "min": 5, "max": None, "status": "below", "action": "warn"}},
    )
    records = [_record(1, evil, summary, dag_id=evil)]
    detail = read.pipeline_detail(records, evil)
    assert detail is not None
    pages = render.pipeline_page(detail, LINKS) + render.pipelines_page(read.pipelines(records), LINKS)
    assert "<script>" not in pages
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in pages
    assert "/dlt/pipelines/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E" in pages


def test_row_expectations_are_shown_when_present() -> None:
    expectations = {
        "orders": {"rows": 0, "min": 1, "max": None, "status": "below", "action": "fail"},
        "users": {"rows": 3, "min": 1, "max": 10, "status": "ok", "action": "warn"},
    }
    detail = read.pipeline_detail(
        [_record(1, "t", _summary({"users": 3}, row_expectations=expectations))], "p"
    )
    assert detail is not None
    assert detail.as_json()["runs"][0]["row_expectations"]["orders"]["status"] == "below"
    page = render.pipeline_page(detail, LINKS)
    assert 'id="row-expectations"' in page and "below (fail)" in page
    without = read.pipeline_detail([_record(1, "t", _summary({"users": 3}))], "p")
    assert without is not None and 'id="row-expectations"' not in render.pipeline_page(without, LINKS)


def test_empty_list_page_says_why() -> None:
    assert "No dlt pipeline run is recorded yet" in render.pipelines_page([], LINKS)
