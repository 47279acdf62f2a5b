"""The ``doc_md`` of a dlt task (Airflow shows it under the task's Details): what it loads, where, and which
pool it waits for. Built at parse time from the arguments only: no connection lookup, never a secret."""

from __future__ import annotations

from typing import Any

from airflow_dlt_provider.pools.names import pool_name_for


def destination_label(destination: Any, destination_conn_id: str | None) -> str:
    """The destination's name (a factory's ``destination_name``, never its configuration)."""
    if destination is None:
        return "from the connection" if destination_conn_id else "duckdb (embedded default)"
    if isinstance(destination, str):
        return destination
    return str(getattr(destination, "destination_name", None) or type(destination).__name__)


def _code(names: Any) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _write_disposition(run_kwargs: dict[str, Any]) -> str:
    value = run_kwargs.get("write_disposition")
    if value is None:
        return "as each resource declares (dlt's default: `append`)"
    if isinstance(value, dict):
        value = value.get("disposition")
    return f"`{value}` (run_kwargs)"


def _pool_line(pool: str | None, pipeline_name: str) -> str:
    if pool == pool_name_for(pipeline_name):
        return (
            f"- pool: `{pool}` (one slot: one task of the pipeline at a time). While another task of the "
            "pipeline runs, this task waits for the slot with no state and *No logs available*; "
            f"it must exist: `airflow-dlt pools sync`"
        )
    return f"- pool: `{pool}`"


def _expectations(expect_rows: dict[str, Any]) -> str | None:
    if not expect_rows:
        return None
    parts = []
    for table, exp in expect_rows.items():
        bounds = " ".join(
            part
            for part in (
                f">= {exp.min}" if exp.min is not None else "",
                f"<= {exp.max}" if exp.max is not None else "",
            )
            if part
        )
        action = exp.action if isinstance(exp.action, str) else "alert"
        parts.append(f"`{table}` {bounds} ({action})")
    return "- row expectations per run: " + ", ".join(parts)


def task_doc_md(operator: Any, declared: Any) -> str:
    """Markdown for ``operator.doc_md``; ``declared`` is its ``DeclaredAssets`` (``None``: emit_assets off)."""
    spec = operator._source_spec
    resources = operator.resource_names
    tables = list(declared.tables) if declared is not None else []
    on_change = operator.on_schema_change
    lines = [
        f"**dlt pipeline** `{operator.pipeline_name}`: source `{spec.display_name}` into destination "
        f"{destination_label(operator.destination, operator.destination_conn_id)}, connection "
        + (f"`{operator.destination_conn_id}`" if operator.destination_conn_id else "none")
        + f", dataset `{operator.dataset_name or '(from dlt configuration)'}`",
        "",
        "- resources: " + (_code(resources) if resources else "every selected resource of the source"),
        "- tables: "
        + (
            _code(tables) + " (and their child tables)"
            if tables
            else "found at run time (see the summary XCom)"
        ),
        "- write disposition: " + _write_disposition(operator.run_kwargs),
        "- schema changes: " + (f"`{on_change}`" if isinstance(on_change, str) else "load, then alert"),
    ]
    expectations = _expectations(operator.expect_rows)
    if expectations:
        lines.append(expectations)
    lines.append(_pool_line(operator.pool, operator.pipeline_name))
    return "\n".join(lines)
