"""Checks around the dlt run: ``on_schema_change``, data contracts and failed load jobs.

``on_schema_change``
    ``"warn"`` (default): new tables and columns are loaded; on a run that is not the pipeline's first, the
    schema-change table is logged at WARNING. ``"ignore"``: loaded and logged at INFO. ``"fail"``: on a run
    that is not the pipeline's first, the run goes step by step -- extract, normalize, then the normalized
    packages' schema updates are read *before* the load step; any new table or column fails the task with
    :class:`SchemaChangeError` naming them, and nothing is loaded. The pipeline's local files are dropped, so a
    retry starts again from the state and schema stored at the destination (and fails again while the data
    still has the new column). On a first run everything is new by definition and nothing fails.

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
from collections.abc import Iterator, Mapping
from typing import Any

from airflow_dlt_provider import _compat
from airflow_dlt_provider.exceptions import (
    DataContractError,
    InvalidArgumentError,
    LoadFailedError,
    SchemaChangeError,
)

log = logging.getLogger("airflow_dlt_provider.checks")

ON_SCHEMA_CHANGE_VALUES = ("warn", "fail", "ignore")


def check_on_schema_change(value: Any) -> str:
    if value not in ON_SCHEMA_CHANGE_VALUES:
        raise InvalidArgumentError(
            f"on_schema_change={value!r} is not one of: {', '.join(ON_SCHEMA_CHANGE_VALUES)}"
        )
    return str(value)


# ---------------------------------------------------------------- the run


def run_pipeline(
    pipeline: Any, source: Any, run_kwargs: Mapping[str, Any], *, on_schema_change: str, first_run: bool
) -> Any:
    """``pipeline.run(source, **run_kwargs)`` with the checks of this module; returns dlt's ``LoadInfo``."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    kwargs = dict(run_kwargs or {})
    try:
        if on_schema_change == "fail" and not first_run and not pipeline.has_pending_data:
            load_info = _run_refusing_schema_changes(pipeline, source, kwargs)
        else:
            load_info = pipeline.run(source, **kwargs)
    except PipelineStepFailed as error:
        translated = translate_step_failure(error)
        if translated is None:
            raise
        if isinstance(translated, DataContractError):
            _forget_local_state(pipeline)
        raise translated from error
    raise_on_failed_jobs(load_info)
    return load_info


def _run_refusing_schema_changes(pipeline: Any, source: Any, kwargs: dict[str, Any]) -> Any:
    schema_name = source.schema.name
    before = typed_columns(pipeline, schema_name)
    pipeline.extract(source, **kwargs)
    pipeline.normalize()
    new_tables, new_columns = schema_diff(before, typed_columns(pipeline, schema_name))
    if new_tables or new_columns:
        _forget_local_state(pipeline)
        raise SchemaChangeError(describe_refused_changes(pipeline, new_tables, new_columns))
    return pipeline.load()


def _forget_local_state(pipeline: Any) -> None:
    """Drop pending packages and the local schema/state: the next attempt restores from the destination."""
    try:
        pipeline.drop()
    except Exception as error:  # never hide the real failure behind a clean-up problem
        log.warning("could not drop the local files of pipeline %r: %s", pipeline.pipeline_name, error)


def _is_dlt_table(table_name: str) -> bool:
    return table_name.startswith("_dlt")


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
        if not _is_dlt_table(name)
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
    from dlt.common.storages.load_package import ParsedLoadJobFileName

    try:
        return ParsedLoadJobFileName.parse(job_id).table_name
    except Exception:
        return job_id.split(".", 1)[0]


def _error_text(failed_message: str | None) -> str:
    """The last meaningful line of dlt's message (often a whole traceback)."""
    lines = [line.strip() for line in str(failed_message or "").splitlines() if line.strip()]
    return lines[-1] if lines else "(dlt gave no error text)"


def describe_failed_job(table: str, job_id: str, load_id: str | None, failed_message: str | None) -> str:
    return str(
        _compat.redact(
            f"load job failed: table {table!r}, job {job_id!r}"
            + (f", load id {load_id!r}" if load_id else "")
            + f": {_error_text(failed_message)}"
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
