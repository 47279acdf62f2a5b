"""The story of one run in the task log: rows per table per step, time per step, schema changes.

Everything here reads dlt's trace (``pipeline.last_trace``) and the summary; nothing touches a destination.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from airflow_dlt_provider.runtime.summary import rows_in_metrics, user_tables

log = logging.getLogger(__name__)

_STEPS = ("extract", "normalize", "load")
_MAX_COLUMNS_SHOWN = 8


def step_seconds(trace: Any) -> dict[str, float]:
    """Seconds spent in each of extract / normalize / load (summed when a step ran more than once)."""
    seconds: dict[str, float] = {}
    for step in getattr(trace, "steps", None) or []:
        if step.step in _STEPS and step.started_at and step.finished_at:
            elapsed = (step.finished_at - step.started_at).total_seconds()
            seconds[step.step] = seconds.get(step.step, 0.0) + elapsed
    return seconds


def extracted_rows(trace: Any) -> dict[str, int]:
    """Rows per table written by the extract step (child tables appear only after normalize)."""
    info = getattr(trace, "last_extract_info", None) if trace else None
    metrics = getattr(info, "metrics", None) or {}
    return user_tables(rows_in_metrics(m for metrics_list in metrics.values() for m in metrics_list))


def normalized_rows(trace: Any) -> dict[str, int]:
    info = getattr(trace, "last_normalize_info", None) if trace else None
    return user_tables(getattr(info, "row_counts", None) or {})


def loaded_tables(load_info: Any) -> set[str]:
    """Tables with at least one completed load job."""
    tables: set[str] = set()
    for package in getattr(load_info, "load_packages", None) or []:
        for job in package.jobs.get("completed_jobs", []):
            tables.add(job.job_file_info.table_name)
    return tables


def _format_table(header: list[str], rows: Iterable[list[str]], right_align_from: int = 1) -> list[str]:
    rows = list(rows)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i >= right_align_from else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def run_story(pipeline: Any, load_info: Any, summary: Mapping[str, Any]) -> str:
    """A few lines: where the data went, time per step, and extracted / normalized / loaded rows per table."""
    trace = getattr(pipeline, "last_trace", None)
    seconds = step_seconds(trace)
    extracted = extracted_rows(trace)
    normalized = normalized_rows(trace)
    loaded = loaded_tables(load_info)
    rows: Mapping[str, int] = summary.get("rows") or {}
    load_ids = ", ".join(summary.get("load_ids") or []) or "none"
    head = (
        f"dlt pipeline {summary.get('pipeline_name')!r} -> {summary.get('destination')} dataset "
        f"{summary.get('dataset_name')!r}: {sum(rows.values())} rows in {len(rows)} tables, load id {load_ids}"
    )
    steps = ", ".join(f"{s} {seconds[s]:.1f} s" for s in _STEPS if s in seconds) or "no steps ran"
    tables = sorted(set(extracted) | set(normalized) | set(rows))
    if not tables:
        return "\n".join([head, f"steps: {steps}", "no rows extracted, normalized or loaded"])

    def cell(counts: Mapping[str, int], table: str) -> str:
        return str(counts[table]) if table in counts else "-"

    table_rows = [
        [
            t,
            cell(extracted, t),
            cell(normalized, t),
            str(normalized.get(t, rows.get(t, 0))) if t in loaded or t in rows else "-",
        ]
        for t in tables
    ]
    lines = _format_table(["table", "extracted", "normalized", "loaded"], table_rows)
    return "\n".join([head, f"steps: {steps}", *lines])


def schema_change_table(schema_changes: Mapping[str, Any]) -> str | None:
    """New tables and columns as a small text table, or ``None`` when nothing changed."""
    new_tables: list[str] = list(schema_changes.get("new_tables") or [])
    new_columns: Mapping[str, list[str]] = schema_changes.get("new_columns") or {}
    changed = sorted(set(new_tables) | {t for t, cols in new_columns.items() if cols})
    if not changed:
        return None
    rows = []
    for table in changed:
        columns = list(new_columns.get(table) or [])
        shown = ", ".join(columns[:_MAX_COLUMNS_SHOWN])
        if len(columns) > _MAX_COLUMNS_SHOWN:
            shown += f", ... ({len(columns)} columns)"
        rows.append([table, "new table" if table in new_tables else "new columns", shown])
    n_columns = sum(len(new_columns.get(t) or []) for t in changed if t not in new_tables)
    head = f"schema changes: {len(new_tables)} new table(s), {n_columns} new column(s) in existing tables"
    return "\n".join([head, *_format_table(["table", "change", "columns"], rows, right_align_from=99)])


def split_schema_changes(
    schema_changes: Mapping[str, Any], expected_tables: Collection[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(changes, expected)``: the new tables in ``expected_tables`` (with their columns) and the rest."""
    new_tables: list[str] = list(schema_changes.get("new_tables") or [])
    new_columns: Mapping[str, list[str]] = schema_changes.get("new_columns") or {}

    def part(keep: bool) -> dict[str, Any]:
        return {
            "new_tables": [t for t in new_tables if (t in expected_tables) == keep],
            "new_columns": {t: c for t, c in new_columns.items() if (t in expected_tables) == keep},
        }

    return part(False), part(True)


def log_run(
    pipeline: Any,
    load_info: Any,
    summary: Mapping[str, Any],
    on_schema_change: str = "warn",
    expected_tables: Collection[str] | None = None,
) -> None:
    """Write the run story and the schema changes into the task log.

    ``expected_tables`` are new tables of resources that had none before the run (``checks.Baseline``):
    logged at INFO. Without it, every new table of a first run is expected.
    """
    log.info("%s", run_story(pipeline, load_info, summary))
    schema_changes: Mapping[str, Any] = summary.get("schema_changes") or {}
    if expected_tables is None:
        expected_tables = (schema_changes.get("new_tables") or []) if summary.get("first_run") else []
    changes, expected = split_schema_changes(schema_changes, set(expected_tables))
    expected_table = schema_change_table(expected)
    if expected_table is not None:
        log.info("%s", expected_table)
    changes_table = schema_change_table(changes)
    if changes_table is not None:
        log.log(logging.WARNING if on_schema_change == "warn" else logging.INFO, "%s", changes_table)
