"""Checks around the dlt run: ``on_schema_change``, data contracts and failed load jobs.

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

Data contracts
    A contract the user sets (``run_kwargs={"schema_contract": ...}`` or on the resources) that dlt finds
    violated fails the task with :class:`DataContractError` naming the table, the column and the contract.

Failed load jobs
    A load job that failed terminally (raised by dlt, or left in ``load_info`` when
    ``raise_on_failed_jobs`` is off) fails the task with :class:`LoadFailedError` naming the table, the job
    id and dlt's error text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_dlt_provider import _compat, _dlt_internals
from airflow_dlt_provider.exceptions import (
    DataContractError,
    LoadFailedError,
    SchemaChangeError,
)
from airflow_dlt_provider.runtime.summary import is_dlt_table

log = logging.getLogger("airflow_dlt_provider.checks")


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
                f"{_rooterror_text(error)}. Whether this task's tables exist is unknown, so the run is not "
                "taken for a first run (on_schema_change='fail' refuses every table and column this "
                "worker's copy of the schema does not hold)"
            ),
        )
    else:
        # dlt's run() syncs once per pipeline object unless told it did: one destination round trip less
        _dlt_internals.mark_state_restored(pipeline)
    return read_baseline(pipeline, source.schema.name, source.selected_resources.keys(), sync_error)


def _rooterror_text(error: BaseException) -> str:
    """``Type: message`` of the innermost cause (dlt wraps the driver's error in PipelineStepFailed)."""
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:
        error = error.__cause__
        seen.add(id(error))
    return f"{type(error).__name__}: {error}"


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
        translated = translate_step_failure(error)
        if translated is None:
            raise
        if isinstance(translated, DataContractError):
            forget_local_state(pipeline)
        raise translated from error
    raise_on_failed_jobs(load_info)
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


# ---------------------------------------------------------------- dlt failures -> provider errors


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def translate_step_failure(error: BaseException) -> Exception | None:
    """A provider error for a dlt step failure we can explain better, else ``None``."""
    from dlt.common.schema.exceptions import DataValidationError
    from dlt.load.exceptions import LoadClientJobException

    for cause in _chain(error):
        if isinstance(cause, DataValidationError):
            return DataContractError(describe_contract_violation(cause))
        if isinstance(cause, LoadClientJobException):
            job_id = str(getattr(cause, "job_id", "?"))
            return LoadFailedError(
                describe_failed_job(
                    _table_of_job(job_id), job_id, getattr(cause, "load_id", None), cause.failed_message
                )
            )
    return None


def describe_contract_violation(error: Any) -> str:
    where = f"table {error.table_name!r}"
    if error.column_name:
        where += f", column {error.column_name!r}"
    return str(
        _compat.redact(
            f"data contract violated in {where}: {error.schema_entity} are {error.contract_mode!r} "
            f"(schema {error.schema_name!r}, contract {dict(error.schema_contract or {})}). Nothing was loaded."
        )
    )


def _table_of_job(job_id: str) -> str:
    try:
        return _dlt_internals.job_table_name(job_id)
    except Exception:
        return job_id.split(".", 1)[0]


# "duckdb.ConversionException: Conversion Error: ..." -- the line of a traceback that names the error
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*:")


def error_text(failed_message: str | None) -> str:
    """The error of dlt's message (often a whole traceback): its last exception line, else its last line
    with words (a database may end its message with the statement and a ``^^^`` marker under it)."""
    lines = [line.strip() for line in str(failed_message or "").splitlines() if line.strip()]
    errors = [line for line in lines if _EXCEPTION_LINE.match(line)]
    if errors:
        return errors[-1]
    words = [line for line in lines if any(c.isalnum() for c in line)]
    return words[-1] if words else "(dlt gave no error text)"


def describe_failed_job(table: str, job_id: str, load_id: str | None, failed_message: str | None) -> str:
    return str(
        _compat.redact(
            f"load job failed: table {table!r}, job {job_id!r}"
            + (f", load id {load_id!r}" if load_id else "")
            + f": {error_text(failed_message)}"
        )
    )


def raise_on_failed_jobs(load_info: Any) -> None:
    """Raise :class:`LoadFailedError` for failed jobs dlt left in ``load_info`` (raise_on_failed_jobs off)."""
    if load_info is None or not getattr(load_info, "has_failed_jobs", False):
        return
    messages = []
    for package in load_info.load_packages:
        for job in package.jobs.get("failed_jobs", []):
            info = job.job_file_info
            messages.append(
                describe_failed_job(info.table_name, info.job_id(), package.load_id, job.failed_message)
            )
    raise LoadFailedError("; ".join(messages) or "dlt reported failed load jobs")
