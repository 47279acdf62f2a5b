"""dlt's failed steps and load jobs, told as the provider's errors (``failures.py`` then decides the retry).

Data contracts
    A contract the user sets (``run_kwargs={"schema_contract": ...}`` or on the resources) that dlt finds
    violated fails the task with :class:`DataContractError` naming the table, the column and the contract.

Failed load jobs
    A load job that failed terminally (raised by dlt, or left in ``load_info`` when
    ``raise_on_failed_jobs`` is off) fails the task with :class:`LoadFailedError` naming the table, the job
    id and dlt's error text. So do the failed jobs of packages an earlier attempt left (:func:`failed_job_lines`,
    :func:`raise_failed_jobs`): their rows are not in the destination.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from airflow_dlt_provider import _compat, _dlt_internals
from airflow_dlt_provider.exceptions import DataContractError, LoadFailedError
from airflow_dlt_provider.runtime.failures import error_chain


def translate_step_failure(error: BaseException) -> Exception | None:
    """A provider error for a dlt step failure we can explain better, else ``None``."""
    from dlt.common.schema.exceptions import DataValidationError
    from dlt.load.exceptions import LoadClientJobException

    for cause in error_chain(error, context=True):
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


def failed_job_lines(pipeline: Any, load_ids: Sequence[str]) -> list[str]:
    """``"<load id>: <table> (<file>): <error>"`` for every terminally failed job of ``load_ids``."""
    return [
        f"{load_id}: table {job.job_file_info.table_name} ({job.file_path}): "
        f"{_compat.redact(error_text(job.failed_message))}"
        for load_id, job in _failed_jobs(pipeline, load_ids)
    ]


def load_ids_with_failed_jobs(pipeline: Any, load_ids: Sequence[str]) -> set[str]:
    """The packages among ``load_ids`` that hold a terminally failed job (the packages are listed once)."""
    return {load_id for load_id, _ in _failed_jobs(pipeline, load_ids)}


def _failed_jobs(pipeline: Any, load_ids: Sequence[str]) -> Iterator[tuple[str, Any]]:
    """``(load id, job)`` of every terminally failed job of the completed or normalized ``load_ids``."""
    present = set(pipeline.list_completed_load_packages()) | set(pipeline.list_normalized_load_packages())
    for load_id in load_ids:
        if load_id in present:
            for job in pipeline.get_load_package_info(load_id).jobs.get("failed_jobs", []):
                yield load_id, job


def raise_failed_jobs(lines: Sequence[str], when: str) -> None:
    """Raise :class:`LoadFailedError` listing ``lines`` (:func:`failed_job_lines`); ``when`` starts it."""
    listing = "\n  ".join(lines)
    raise LoadFailedError(
        f"{when} {len(lines)} load job(s) failed terminally and their rows are not in the destination:\n  "
        f"{listing}\nThe package is kept in the pipeline's folder and is not loaded again automatically; fix "
        "the cause, then clear this task (it extracts again) or retry the failed jobs with dlt"
    )
