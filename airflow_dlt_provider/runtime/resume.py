"""Retries that resume: finish the load packages of a failed attempt instead of extracting again.

The task's working directory (``runtime.task_working_dir``) outlives a failed attempt on the same worker.
At the start of an attempt this module looks into it:

- pending load packages (extracted or normalized, not fully loaded) are what the failed attempt extracted
  for this very task instance: they are normalized if needed and loaded; the source is not called again;
- packages that a previous attempt loaded completely (it failed after the load, e.g. killed while
  reporting) are reported as this task's load; the source is not called again;
- packages completed with failed jobs (``load.raise_on_failed_jobs = false``) are never dropped: the task
  fails, naming the failed jobs and where their files are kept;
- otherwise the source is extracted, normalized and loaded (dlt's ``Pipeline.run``). On a fresh worker the folder is empty and dlt
  restores the pipeline state from the destination first.

When the task holds its pipeline's own pool, the working directory is the pipeline's folder (see
``workdir.pipeline_working_dir``), shared by all its tasks one at a time, and ``OWNERS_FILE`` records which
task instance (``workdir.task_key``) each package was extracted for. Then, before it extracts:

- pending packages of *this* task instance (an earlier attempt) are loaded as above, together with any other
  pending package of the pipeline; the source is not called;
- pending packages of *other* tasks of the pipeline (any DAG run, any DAG) are finished first (normalized if
  needed and loaded, their source is not called), then the task extracts and loads its own data; a package
  whose owner is not recorded (extracted by an older release, or the worker was killed between dlt's extract
  and the record) counts as another task's;
- packages that this task instance loaded, or that another task loaded on its behalf (kept in
  ``OWNERS_FILE`` as ``loaded`` until their owner reports them), are reported without extracting.

Rows per table of every package are written to ``ROWS_FILE`` in the working directory when a normalize
step ends (``on_end_trace_step`` of the task's progress collector, a ``dlt.progress.log`` subclass: so
before the load starts), so an attempt that only loads packages of a previous attempt still reports their
rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_dlt_provider import _compat, _dlt_internals
from airflow_dlt_provider.exceptions import LoadFailedError
from airflow_dlt_provider.runtime.summary import is_dlt_table, rows_in_metrics

log = logging.getLogger("airflow_dlt_provider.resume")

ROWS_FILE = "airflow_dlt_rows_by_load_id.json"
OWNERS_FILE = "airflow_dlt_owners_by_load_id.json"


@dataclass
class PreviousLoad:
    """Stands in for dlt's ``LoadInfo`` when a previous attempt already loaded the packages."""

    loads_ids: list[str]
    load_packages: list[Any] = field(default_factory=list)
    has_failed_jobs: bool = False


@dataclass
class RunOutcome:
    """What one attempt did: dlt's load info, rows per table and whether it resumed a previous attempt."""

    load_info: Any
    rows: dict[str, int]
    resumed_load_ids: list[str] = field(default_factory=list)
    finished_for_others: list[str] = field(default_factory=list)  # other tasks' packages loaded first

    @property
    def resumed(self) -> bool:
        return bool(self.resumed_load_ids)


# ---------------------------------------------------------------- rows per load package


def _rows_path(working_dir: Path) -> Path:
    return working_dir / ROWS_FILE


def read_rows_by_load_id(working_dir: Path) -> dict[str, dict[str, int]]:
    path = _rows_path(working_dir)
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except ValueError:
        log.warning("could not read %s; rows of earlier attempts are unknown", path)
        return {}


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, sort_keys=True))
    tmp.replace(path)


def read_owners(working_dir: Path) -> dict[str, dict[str, Any]]:
    """``{load_id: {"owner": <task key>, "loaded": bool}}`` of a pipeline folder (empty when unknown)."""
    path = working_dir / OWNERS_FILE
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except ValueError:
        log.warning("could not read %s; the owners of pending load packages are unknown", path)
        return {}


def record_owner(working_dir: Path, load_ids: Sequence[str], owner: str) -> None:
    """Record that ``load_ids`` were extracted for task instance ``owner`` (kept when already recorded)."""
    owners = read_owners(working_dir)
    new = {load_id: {"owner": owner, "loaded": False} for load_id in load_ids if load_id not in owners}
    if new:
        _write_json(working_dir / OWNERS_FILE, {**owners, **new})


def settle_ledgers(working_dir: Path, owner: str, loaded: Sequence[str]) -> dict[str, dict[str, Any]]:
    """After ``owner`` succeeded: forget its packages, keep those it loaded for other tasks; returns the rest.

    The rows of the kept packages stay in ``ROWS_FILE``, so their owner reports them when it runs again.
    """
    done = set(loaded)
    kept = {
        load_id: {**entry, "loaded": True}
        for load_id, entry in read_owners(working_dir).items()
        if entry.get("owner") != owner and (entry.get("loaded") or load_id in done)
    }
    rows = {k: v for k, v in read_rows_by_load_id(working_dir).items() if k in kept}
    for name, value in ((OWNERS_FILE, kept), (ROWS_FILE, rows)):
        if value:
            _write_json(working_dir / name, value)
        else:
            (working_dir / name).unlink(missing_ok=True)
    return kept


def record_rows(working_dir: Path, normalize_info: Any) -> None:
    """Store rows per table of each package normalized in this attempt (``NormalizeInfo.metrics``)."""
    metrics = getattr(normalize_info, "metrics", None) or {}
    if not metrics:
        return
    recorded = read_rows_by_load_id(working_dir)
    for load_id, steps in metrics.items():
        recorded[load_id] = rows_in_metrics(steps)
    _write_json(_rows_path(working_dir), recorded)


def rows_of(working_dir: Path, load_ids: Sequence[str]) -> dict[str, int]:
    """Rows per user table in the packages ``load_ids`` (dlt's own ``_dlt*`` tables left out)."""
    recorded = read_rows_by_load_id(working_dir)
    totals: dict[str, int] = {}
    for load_id in load_ids:
        if load_id not in recorded:
            log.warning("rows of load package %s were not recorded; the summary leaves them out", load_id)
            continue
        for table, count in recorded[load_id].items():
            if not is_dlt_table(table):
                totals[table] = totals.get(table, 0) + count
    return dict(sorted(totals.items()))


# ---------------------------------------------------------------- what an earlier attempt left


def pending_load_ids(pipeline: Any) -> list[str]:
    """Load packages extracted or normalized but not fully loaded yet."""
    return sorted(
        set(pipeline.list_extracted_load_packages()) | set(pipeline.list_normalized_load_packages())
    )


def failed_jobs(pipeline: Any, load_ids: Sequence[str]) -> list[str]:
    """``"<load id>: <table> (<file>): <message>"`` for every terminally failed job of ``load_ids``."""
    lines = []
    for load_id in load_ids:
        info = pipeline.get_load_package_info(load_id)
        for job in info.jobs.get("failed_jobs", []):
            message = _compat.redact(str(job.failed_message or "no message"))
            lines.append(f"{load_id}: table {job.job_file_info.table_name} ({job.file_path}): {message}")
    return lines


def _raise_failed_jobs(lines: Sequence[str], when: str) -> None:
    listing = "\n  ".join(lines)
    raise LoadFailedError(
        f"{when} {len(lines)} load job(s) failed terminally and their rows are not in the destination:\n  "
        f"{listing}\nThe job files are kept in the task's working directory and are not loaded again "
        "automatically; fix the cause, load or inspect them, then delete that folder to extract again"
    )


# ---------------------------------------------------------------- one attempt


def resume_or_run(
    pipeline: Any,
    working_dir: Path,
    run: Callable[[], Any],
    *,
    owner: str | None = None,
    finish_pending: Callable[[], Any] | None = None,
) -> RunOutcome:
    """Finish what a previous attempt left in ``working_dir``, else ``run()`` (extract, normalize, load).

    ``run`` is the normal dlt run; with pending packages dlt's ``Pipeline.run`` loads them and returns
    without extracting (the source is not called). Rows come from ``ROWS_FILE`` for every loaded package.
    With ``owner`` (the task key; ``working_dir`` is then the pipeline's folder), pending packages of other
    tasks are finished first with ``finish_pending()`` (dlt's ``Pipeline.run()`` without data), then ``run()``.
    """
    if owner is not None:
        return _resume_or_run_for_pipeline(pipeline, working_dir, run, owner, finish_pending or pipeline.run)
    pending = pending_load_ids(pipeline)
    if pending:
        log.warning(
            "found %d pending load packages from a previous attempt: loading them instead of extracting "
            "again (load ids: %s)",
            len(pending),
            ", ".join(pending),
        )
        mark_committed_jobs(pipeline)
    else:
        completed = list(pipeline.list_completed_load_packages())
        if completed:
            return _previously_loaded(pipeline, completed, working_dir)
    load_info = run()
    load_ids = list(getattr(load_info, "loads_ids", None) or [])
    return RunOutcome(load_info=load_info, rows=rows_of(working_dir, load_ids), resumed_load_ids=pending)


def _resume_or_run_for_pipeline(
    pipeline: Any, working_dir: Path, run: Callable[[], Any], owner: str, finish_pending: Callable[[], Any]
) -> RunOutcome:
    pending = pending_load_ids(pipeline)
    owners = read_owners(working_dir)
    mine = [load_id for load_id in pending if owners.get(load_id, {}).get("owner") == owner]
    others = [load_id for load_id in pending if load_id not in mine]
    if pending:
        mark_committed_jobs(pipeline)
    if mine:
        log.warning(
            "found %d pending load packages from a previous attempt: loading them instead of extracting again "
            "(load ids: %s)%s",
            len(mine),
            ", ".join(mine),
            f"; also loading {len(others)} pending package(s) of other tasks of the pipeline"
            if others
            else "",
        )
        load_info = run()
        return RunOutcome(
            load_info, rows_of(working_dir, mine), resumed_load_ids=mine, finished_for_others=others
        )
    if others:
        _finish_for_others(pipeline, working_dir, others, owners, finish_pending)
    reported = _loaded_for(owner, pipeline, owners)
    if reported:
        by_others = [load_id for load_id in reported if owners[load_id].get("loaded")]
        return _previously_loaded(pipeline, reported, working_dir, by_other_tasks=by_others)
    load_info = run()
    load_ids = list(getattr(load_info, "loads_ids", None) or [])
    return RunOutcome(load_info, rows_of(working_dir, load_ids), finished_for_others=others)


def _finish_for_others(
    pipeline: Any,
    working_dir: Path,
    load_ids: list[str],
    owners: dict[str, dict[str, Any]],
    finish_pending: Callable[[], Any],
) -> None:
    left_by = sorted(
        {str(owners.get(load_id, {}).get("owner", "an unrecorded task")) for load_id in load_ids}
    )
    log.warning(
        "found %d pending load package(s) of pipeline %r left by %s: loading them before this task extracts "
        "(load ids: %s; their source is not called again)",
        len(load_ids),
        pipeline.pipeline_name,
        ", ".join(left_by),
        ", ".join(load_ids),
    )
    finish_pending()
    failed = failed_jobs(pipeline, load_ids)
    if failed:
        _raise_failed_jobs(failed, "Pending load packages of other tasks of the pipeline were loaded, but")
    log.warning(
        "loaded the pending load package(s) %s of pipeline %r (rows: %s); now extracting this task's data",
        ", ".join(load_ids),
        pipeline.pipeline_name,
        json.dumps(rows_of(working_dir, load_ids), sort_keys=True),
    )


def _loaded_for(owner: str, pipeline: Any, owners: dict[str, dict[str, Any]]) -> list[str]:
    """Packages of ``owner`` that were loaded (by an earlier attempt or by another task) but not reported."""
    completed = set(pipeline.list_completed_load_packages())
    return sorted(
        load_id
        for load_id, entry in owners.items()
        if entry.get("owner") == owner and (entry.get("loaded") or load_id in completed)
    )


def mark_committed_jobs(pipeline: Any) -> list[str]:
    """Mark the jobs whose rows the destination already holds as completed; returns their files.

    A worker killed after a job's transaction committed but before dlt recorded it (dlt writes a "pending
    transition" marker right after the commit) leaves the job in ``started_jobs``; dlt would run it again,
    loading its rows twice, or failing every retry on the unique ``_dlt_id`` index. A package restored from the
    package store was copied before its load began, so jobs that a killed worker committed afterwards are
    still *new* in it. If the ``_dlt_id`` of a job file's first row is in its table, the job is given dlt's own
    completed marker instead (a new job is first moved to the started jobs, as dlt's loader would).
    """
    if not _dlt_internals.commit_markers_supported(pipeline):  # dlt releases before the markers existed
        return []
    marked: list[str] = []
    for load_id in pipeline.list_normalized_load_packages():
        package = pipeline.get_load_package_info(load_id)
        started = [
            job
            for job in package.jobs.get("started_jobs", [])
            if _dlt_internals.commit_marker(pipeline, load_id, Path(job.file_path).name) is None
        ]
        new = list(package.jobs.get("new_jobs", []))
        if not started and not new:
            continue
        try:
            with pipeline.destination_client(package.schema_name) as client:
                committed = [job for job in started if _first_row_in_destination(client, job)]
                committed_new = [job for job in new if _first_row_in_destination(client, job, started=False)]
        except Exception as error:  # e.g. the destination is not reachable: dlt's own restore applies
            log.warning(
                "could not check in the destination whether load job(s) %s of package %s had committed "
                "before the previous attempt stopped (%s): dlt loads them again, so rows of a job that had "
                "committed may be loaded twice",
                ", ".join(Path(job.file_path).name for job in [*started, *new]),
                load_id,
                _compat.redact(str(error)),
            )
            continue
        for job in committed_new:
            _dlt_internals.start_job(pipeline, load_id, Path(job.file_path).name)
        for job in [*committed, *committed_new]:
            name = Path(job.file_path).name
            _dlt_internals.write_commit_marker(pipeline, load_id, name)
            marked.append(name)
            log.warning(
                "load job %s of package %s had committed its rows before the previous attempt stopped "
                "(its first row is in the destination): marked completed, not loaded again",
                name,
                load_id,
            )
    return marked


def _first_row_in_destination(client: Any, started_job: Any, started: bool = True) -> bool:
    """Whether the ``_dlt_id`` of the first row of a job's file is in its table (SQL destinations).

    ``started_job`` is a ``LoadJobInfo`` of ``pipeline.get_load_package_info``. A job dlt never started
    (``started=False``) usually has nothing in the destination (its table may not even exist): a failed
    lookup is then only logged at INFO.
    """
    from airflow_dlt_provider.runtime.job_files import first_row_value

    sql_client = getattr(client, "sql_client", None)
    if sql_client is None:  # not a SQL destination: dlt's own job restore applies
        return False
    job_file = Path(started_job.file_path)
    job = started_job.job_file_info
    id_column = client.schema.naming.normalize_identifier("_dlt_id")
    row_id = first_row_value(job_file, job.file_format, id_column)
    if row_id is None:
        log.log(
            logging.WARNING if started else logging.INFO,
            "load job %s has no readable %r in its first row: it is loaded again; if it had committed "
            "before the previous attempt stopped, its rows may be loaded twice",
            job_file.name,
            id_column,
        )
        return False
    try:
        with _dlt_internals.staging_dataset_for(client, job.table_name):
            table = sql_client.make_qualified_table_name(job.table_name)
            column = sql_client.escape_column_name(id_column)
            found = sql_client.execute_sql(f"SELECT 1 FROM {table} WHERE {column} = %s", row_id)
    except Exception as error:  # e.g. the table does not exist yet: then the job has not loaded anything
        log.log(
            logging.WARNING if started else logging.INFO,
            "could not look up the first row of load job %s in table %r (%s): the job is loaded "
            "again; if it had committed before the previous attempt stopped, its rows may be loaded twice",
            job_file.name,
            job.table_name,
            _compat.redact(str(error)),
        )
        return False
    return bool(found)


def _previously_loaded(
    pipeline: Any, completed: list[str], working_dir: Path, by_other_tasks: Sequence[str] = ()
) -> RunOutcome:
    present = set(pipeline.list_completed_load_packages())  # another task's success may have removed them
    failed = failed_jobs(pipeline, [load_id for load_id in completed if load_id in present])
    if failed:
        _raise_failed_jobs(failed, "A previous attempt of this task completed its load packages, but")
    own = [load_id for load_id in completed if load_id not in by_other_tasks]
    if own:
        log.warning(
            "a previous attempt already loaded load package(s) %s completely before it failed: not extracting "
            "again; reporting those packages",
            ", ".join(own),
        )
    if by_other_tasks:
        log.warning(
            "load package(s) %s that a previous attempt of this task extracted were loaded on its behalf by "
            "another task of the pipeline: not extracting again; reporting those packages",
            ", ".join(by_other_tasks),
        )
    packages = [pipeline.get_load_package_info(load_id) for load_id in completed if load_id in present]
    return RunOutcome(
        load_info=PreviousLoad(loads_ids=completed, load_packages=packages),
        rows=rows_of(working_dir, completed),
        resumed_load_ids=completed,
    )


def record_after_step(working_dir: Path, step: Any, step_info: Any, owner: str | None = None) -> None:
    """Write ``OWNERS_FILE`` when an extract step ended and ``ROWS_FILE`` when a normalize step ended (the
    progress collector's ``on_end_trace_step``)."""
    if isinstance(step_info, BaseException):
        return
    name = getattr(step, "step", None)
    if name == "extract" and owner is not None:
        record_owner(working_dir, list(getattr(step_info, "loads_ids", None) or []), owner)
    if name == "normalize":
        record_rows(working_dir, step_info)


# ---------------------------------------------------------------- after a failure


def packages_left_in(working_dir: Path, pipeline_name: str) -> list[str]:
    """Load ids in a kept folder that still need loading (pending) or hold failed jobs (never dropped)."""
    if not (working_dir / pipeline_name).is_dir():
        return []
    import dlt

    try:
        pipeline = dlt.attach(pipeline_name=pipeline_name, pipelines_dir=str(working_dir))
    except Exception as error:  # half written: keep it, a person can look
        log.warning("could not read the kept folder %s (%s): it is kept", working_dir, error)
        return ["<unreadable>"]
    try:
        completed = list(pipeline.list_completed_load_packages())
        with_failed_jobs = [load_id for load_id in completed if failed_jobs(pipeline, [load_id])]
        return sorted(set(pending_load_ids(pipeline)) | set(with_failed_jobs))
    finally:
        pipeline.deactivate()


def describe_kept(working_dir: Path, pipeline_name: str, shared: bool = False) -> str:
    """What a failed attempt leaves in ``working_dir`` and what the next attempt will do with it.

    ``shared``: ``working_dir`` is the pipeline's folder, so any next task of the pipeline finishes it.
    """
    text = _describe_kept(working_dir, pipeline_name)
    if shared and "pending load package" in text:
        text += (
            " (it is the pipeline's folder: if another task of the pipeline runs first, in any DAG run, that "
            "task loads them before extracting its own data)"
        )
    return text


def _describe_kept(working_dir: Path, pipeline_name: str) -> str:
    if not (working_dir / pipeline_name).exists():
        return (
            f"nothing was kept in {working_dir}: the retry starts from scratch (state from the destination)"
        )
    try:
        import dlt

        pipeline = dlt.attach(pipeline_name=pipeline_name, pipelines_dir=str(working_dir))
        try:
            pending = pending_load_ids(pipeline)
            completed = list(pipeline.list_completed_load_packages())
        finally:
            # attach() made it the current pipeline of this process; the next task run here
            # (dag.test, a test session) must not inherit its destination settings
            pipeline.deactivate()
    except Exception as error:  # the folder may be half written when the failure hit early
        return f"kept {working_dir} (its load packages could not be listed: {error})"
    if pending:
        return (
            f"kept {working_dir} with {len(pending)} pending load package(s) ({', '.join(pending)}): "
            "the retry loads them and does not extract again"
        )
    if completed:
        return (
            f"kept {working_dir} with load package(s) {', '.join(completed)} that were loaded: the retry "
            "reports them and does not extract again"
        )
    return (
        f"kept {working_dir}; no load package was pending, so the retry extracts again from the state "
        "kept there"
    )
