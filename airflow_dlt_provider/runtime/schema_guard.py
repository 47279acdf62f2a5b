"""The schema guard around the dlt run: ``on_schema_change``.

``on_schema_change``
    What counts as a change is decided per task, not per pipeline: the tasks of a ``DltTaskGroup`` share one
    pipeline, so the destination already holds other tasks' tables when a task loads its own for the first
    time. New tables of a resource that had no table before the run are expected (the task's first run for
    that resource); new tables (nested ones included) and new columns under a resource that already had
    tables are schema changes. :class:`Baseline` holds what the schema knew before the run.

    ``"warn"`` (default): new tables and columns are loaded; schema changes are logged at WARNING, expected
    new tables at INFO. ``"ignore"``: loaded and logged at INFO. ``"fail"``: once the schema holds any user
    table, the run goes step by step -- extract, normalize, then the normalized packages' schema updates are
    read *before* the load step; any schema change fails the task with :class:`SchemaChangeError` naming it,
    and nothing is loaded. The pipeline's local files are dropped, so a retry starts again from the state and
    schema stored at the destination (and fails again while the data still has the new column).

    When the pipeline could not be synced from the destination, whether a table existed is unknown: the run
    is not taken for a first run, and with ``"fail"`` every table the local schema does not hold counts as
    a change (the error is chained, so a transient sync failure is retried).

    dlt's ``schema_contract="freeze"`` was considered and not used for this: dlt stores the contract passed to
    ``run`` in the schema (and so at the destination), so a later ``"warn"`` run would still be frozen.

Data contracts and failed load jobs
    A violated data contract or a load job that failed terminally is told as the provider's error by
    ``failed_jobs.py`` (:func:`~airflow_dlt_provider.runtime.failed_jobs.translate_step_failure`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_dlt_provider import _compat, _dlt_internals
from airflow_dlt_provider.exceptions import DataContractError, SchemaChangeError
from airflow_dlt_provider.runtime import failed_jobs
from airflow_dlt_provider.runtime.failures import root_cause
from airflow_dlt_provider.runtime.summary import is_dlt_table

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- what the schema knew before the run


@dataclass(frozen=True)
class Baseline:
    """The pipeline schema before this task's run, as synced from the destination."""

    schema_name: str
    tables: Mapping[str, list[str]]  # typed columns of every user table (see typed_columns)
    resources_with_tables: frozenset[str]  # the task's resources that already had a table
    sync_error: BaseException | None = None  # set when the destination could not be read

    @property
    def known(self) -> bool:
        return self.sync_error is None

    @property
    def first_run(self) -> bool:
        """No table of the task's resources exists yet; ``False`` when that is unknown."""
        return self.known and not self.resources_with_tables


def sync_and_read_baseline(pipeline: Any, source: Any) -> Baseline:
    """Sync the pipeline from the destination, then read the :class:`Baseline` of ``source``'s resources.

    A failed sync is logged at WARNING and recorded in the baseline: the guard stays on.
    """
    sync_error: BaseException | None = None
    if pipeline.has_pending_data:
        # dlt wipes the working folder -- pending packages included -- when the dataset does not exist yet
        # (a first run whose load failed); the local schema is the newest the pending packages know
        log.info("pending load packages: the schema baseline is this folder's (no sync from the destination)")
        return read_baseline(pipeline, source.schema.name, source.selected_resources.keys())
    try:
        pipeline.sync_destination()
    except Exception as error:
        sync_error = error
        log.warning(
            "%s",
            _compat.redact(
                f"could not sync pipeline {pipeline.pipeline_name!r} from the destination: "
                f"{_root_error_text(error)}. Whether this task's tables exist is unknown, so the run is not "
                "taken for a first run (on_schema_change='fail' refuses every table and column this "
                "worker's copy of the schema does not hold)"
            ),
        )
    else:
        # dlt's run() syncs once per pipeline object unless told it did: one destination round trip less
        _dlt_internals.mark_state_restored(pipeline)
    return read_baseline(pipeline, source.schema.name, source.selected_resources.keys(), sync_error)


def _root_error_text(error: BaseException) -> str:
    """``Type: message`` of the innermost cause (dlt wraps the driver's error in PipelineStepFailed)."""
    root = root_cause(error)
    return f"{type(root).__name__}: {root}"


def read_baseline(
    pipeline: Any, schema_name: str, resources: Iterable[str], sync_error: BaseException | None = None
) -> Baseline:
    tables = typed_columns(pipeline, schema_name)
    schema_tables = tables_of_schema(pipeline, schema_name)
    owners = {resource_of(schema_tables, table) for table in tables}
    return Baseline(schema_name, tables, frozenset(owners & set(resources)), sync_error)


def tables_of_schema(pipeline: Any, schema_name: str) -> Mapping[str, Any]:
    return pipeline.schemas[schema_name].tables if schema_name in pipeline.schema_names else {}


def resource_of(schema_tables: Mapping[str, Any], table_name: str) -> str:
    """The resource that loads ``table_name``; a nested table belongs to its root table's resource."""
    root = schema_tables[table_name]
    while root.get("parent"):  # the schema's "parent" hint marks a nested table
        root = schema_tables[root["parent"]]
    return str(root.get("resource") or root["name"])


def expected_new_tables(baseline: Baseline, pipeline: Any, new_tables: Collection[str]) -> set[str]:
    """The tables of ``new_tables`` whose resource had no table before the run (none when unknown)."""
    if not baseline.known:
        return set()
    schema_tables = tables_of_schema(pipeline, baseline.schema_name)
    return {
        table
        for table in new_tables
        if table in schema_tables and resource_of(schema_tables, table) not in baseline.resources_with_tables
    }


# ---------------------------------------------------------------- the run


def run_pipeline(
    pipeline: Any,
    source: Any,
    run_kwargs: Mapping[str, Any],
    *,
    on_schema_change: str,
    baseline: Baseline,
    judge: Callable[[list[str]], None] | None = None,
) -> Any:
    """``pipeline.run(source, **run_kwargs)`` with the checks of this module; returns dlt's ``LoadInfo``.

    ``judge(load_ids)`` is called with the normalized packages before they load when ``on_schema_change``
    is ``"fail"`` (resume.judge_packages records the verdict, so a retry does not load them unjudged).
    """
    from dlt.pipeline.exceptions import PipelineStepFailed

    kwargs = dict(run_kwargs or {})
    # with no user table in the schema (and the schema known) every new table is expected: nothing to refuse
    guard = on_schema_change == "fail" and (bool(baseline.tables) or not baseline.known)
    try:
        if guard and not pipeline.has_pending_data:
            load_info = _run_refusing_schema_changes(pipeline, source, kwargs, baseline, judge)
        else:
            load_info = pipeline.run(source, **kwargs)
    except PipelineStepFailed as error:
        translated = failed_jobs.translate_step_failure(error)
        if translated is None:
            raise
        if isinstance(translated, DataContractError):
            forget_local_state(pipeline)
        raise translated from error
    failed_jobs.raise_on_failed_jobs(load_info)
    return load_info


def _run_refusing_schema_changes(
    pipeline: Any,
    source: Any,
    kwargs: dict[str, Any],
    baseline: Baseline,
    judge: Callable[[list[str]], None] | None = None,
) -> Any:
    schema_name = source.schema.name
    before = typed_columns(pipeline, schema_name)
    pipeline.extract(source, **kwargs)
    pipeline.normalize()
    new_tables, new_columns = schema_diff(before, typed_columns(pipeline, schema_name))
    expected = expected_new_tables(baseline, pipeline, new_tables)
    new_tables = [t for t in new_tables if t not in expected]
    if new_tables or new_columns:
        forget_local_state(pipeline)
        message = describe_refused_changes(pipeline, new_tables, new_columns)
        if not baseline.known:
            message += (
                " The pipeline could not be synced from the destination (see the warning above), so every"
                " table this worker's copy of the schema does not hold counts as new."
            )
        # chained: a transient sync failure keeps the task retryable (failures.terminal_reason)
        raise SchemaChangeError(
            message, pipeline_name=pipeline.pipeline_name, new_tables=new_tables, new_columns=new_columns
        ) from baseline.sync_error
    if judge is not None:
        judge(list(pipeline.list_normalized_load_packages()))
    return pipeline.load()


def forget_local_state(pipeline: Any) -> None:
    """Drop pending packages and the local schema/state: the next attempt restores from the destination."""
    try:
        pipeline.drop()
    except Exception as error:  # never hide the real failure behind a clean-up problem
        log.warning("could not drop the local files of pipeline %r: %s", pipeline.pipeline_name, error)


def typed_columns(pipeline: Any, schema_name: str) -> dict[str, list[str]]:
    """``{table: columns}`` of the user tables in a pipeline schema, counting only columns with a data type.

    Columns without a type are hints a resource declared but no data has filled yet; they are not in the
    destination.
    """
    if schema_name not in pipeline.schema_names:
        return {}
    tables = pipeline.schemas[schema_name].tables
    columns = {
        name: [c for c, column in (table.get("columns") or {}).items() if column.get("data_type")]
        for name, table in tables.items()
        if not is_dlt_table(name)
    }
    return {name: cols for name, cols in columns.items() if cols}


def schema_diff(
    before: Mapping[str, list[str]], after: Mapping[str, list[str]]
) -> tuple[list[str], dict[str, list[str]]]:
    """Tables in ``after`` only, and columns added to tables that were in ``before``."""
    new_tables = sorted(t for t in after if t not in before)
    new_columns = {
        t: [c for c in cols if c not in set(before[t])] for t, cols in sorted(after.items()) if t in before
    }
    return new_tables, {t: cols for t, cols in new_columns.items() if cols}


def describe_refused_changes(
    pipeline: Any, new_tables: list[str], new_columns: Mapping[str, list[str]]
) -> str:
    parts = [f"new table {t!r}" for t in new_tables]
    parts += [
        f"new column(s) {', '.join(repr(c) for c in cols)} in table {t!r}" for t, cols in new_columns.items()
    ]
    return (
        f"on_schema_change='fail': pipeline {pipeline.pipeline_name!r} would change the schema of dataset "
        f"{pipeline.dataset_name!r}: {'; '.join(parts)}. Nothing was loaded. Accept the change with "
        "on_schema_change='warn' (or 'ignore'), or change the source."
    )
