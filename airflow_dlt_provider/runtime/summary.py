"""The load summary of one run (XCom): rows per table, load ids, schema changes; the one home of row counting.

Rows always leave dlt's own tables (``_dlt_loads``, ``_dlt_pipeline_state``, ...) out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


def is_dlt_table(table_name: str) -> bool:
    """dlt's own bookkeeping tables: never counted, reported or given an asset."""
    return table_name.startswith("_dlt")


def user_tables(counts: Mapping[str, Any]) -> dict[str, int]:
    """``counts`` without dlt's own tables, as ints, sorted by table."""
    return {table: int(count) for table, count in sorted(counts.items()) if not is_dlt_table(table)}


def rows_in_metrics(step_metrics: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Rows per table in dlt's step metrics (``ExtractInfo``/``NormalizeInfo.metrics[load_id]``), all tables."""
    counts: dict[str, int] = {}
    for metrics in step_metrics:
        for table, table_metrics in (metrics.get("table_metrics") or {}).items():
            counts[table] = counts.get(table, 0) + int(table_metrics.items_count)
    return counts


def rows_loaded(pipeline: Any) -> dict[str, int]:
    """Rows per table normalized in this run (child tables included, dlt's own tables left out)."""
    trace = pipeline.last_trace
    normalize_info = trace.last_normalize_info if trace else None
    if normalize_info is None:
        return {}
    return user_tables(normalize_info.row_counts)


def schema_changes(pipeline: Any, load_info: Any) -> dict[str, Any]:
    """New tables and new columns of existing tables, from the schema updates of the loaded packages."""
    new_tables: list[str] = []
    new_columns: dict[str, list[str]] = {}
    updated: dict[str, list[str]] = {}
    for package in getattr(load_info, "load_packages", None) or []:
        for table_name, table in (package.schema_update or {}).items():
            if is_dlt_table(table_name):
                continue
            columns = updated.setdefault(table_name, [])
            columns.extend(c for c in (table.get("columns") or {}) if c not in columns)
    schema_tables = pipeline.default_schema.tables if pipeline.default_schema_name else {}
    for table_name, columns in sorted(updated.items()):
        all_columns = set((schema_tables.get(table_name) or {}).get("columns") or {})
        if all_columns and all_columns <= set(columns):
            new_tables.append(table_name)
        if columns:
            new_columns[table_name] = columns
    return {"new_tables": new_tables, "new_columns": new_columns}


def table_columns(pipeline: Any, tables: Iterable[str]) -> dict[str, dict[str, str]]:
    """``{table: {column: data type}}`` of ``tables`` as the pipeline's schema holds them after the run.

    Columns whose type dlt has not inferred yet (no data) are left out; dlt's own tables never appear.
    """
    if not pipeline.default_schema_name:
        return {}
    schema_tables = pipeline.default_schema.tables
    columns: dict[str, dict[str, str]] = {}
    for table_name in sorted(tables):
        if is_dlt_table(table_name) or table_name not in schema_tables:
            continue
        table_cols = schema_tables[table_name].get("columns") or {}
        columns[table_name] = {
            name: str(column["data_type"]) for name, column in table_cols.items() if column.get("data_type")
        }
    return columns


def dataset_name_used(pipeline: Any) -> str | None:
    """The dataset name as the destination has it (dlt normalises the configured one, e.g. ``a-b`` -> ``a_b``)."""
    if pipeline.destination is None or not pipeline.default_schema_name:
        return pipeline.dataset_name  # type: ignore[no-any-return]
    try:
        config = pipeline.destination_client().config
        return config.normalize_dataset_name(pipeline.default_schema) or pipeline.dataset_name  # type: ignore[no-any-return]
    except Exception as error:  # destinations without datasets
        log.debug("could not tell the destination's dataset name: %s", error)
        return pipeline.dataset_name  # type: ignore[no-any-return]


def build_summary(
    pipeline: Any, load_info: Any, started_at: datetime, finished_at: datetime, first_run: bool
) -> dict[str, Any]:
    destination = pipeline.destination
    rows = rows_loaded(pipeline)
    return {
        "pipeline_name": pipeline.pipeline_name,
        "destination": destination.destination_name if destination else None,
        "dataset_name": dataset_name_used(pipeline),
        "load_ids": list(getattr(load_info, "loads_ids", None) or []),
        "rows": rows,
        "columns": table_columns(pipeline, rows),
        "schema_changes": schema_changes(pipeline, load_info),
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "first_run": first_run,
    }
