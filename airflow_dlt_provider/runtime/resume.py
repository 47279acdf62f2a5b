"""Retries that resume, decided on dlt's own evidence: every row loaded once, never skipped on a guess.

The full argument, step by step, is ``docs/concepts/retries.md``; this is its summary.

**What is persisted, and where.** A task runs dlt in its pipeline's folder for its binding
(``<working_dir>/.pipelines/<pipeline>/<binding>``, see ``binding.py``; a task outside its pipeline's pool
uses a folder of its own). dlt keeps there the pipeline state and schemas, and each load package with its
job files in ``new``/``started``/``completed``/``failed`` folders, a marker per job written right after the
destination committed it, the applied schema update and the package state (a function destination's
delivered batches). The provider adds the package ledger (owner task, rows per table, the schema guard's
verdict) and, per task instance, a done record (``ledger.py``). With ``[dlt] package_store`` the folder is
archived to the store after normalize and after a failure, and dlt's per-job records reach the store as dlt
writes them (``journal.py``).

**At the start of an attempt** (:func:`finish_pending`), for every pending package of the folder:

1. *Loaded already?* -- ``_dlt_loads`` holds its load id (SQL, filesystem): dlt wrote that row in
   ``complete_load``, after every job and followup job committed. The package is completed locally, nothing
   is loaded (exactly once).
2. *Which jobs committed?* -- a job with dlt's commit marker is finalised by dlt without running. For a job
   without one (started when the worker died, or new in a copy taken before the load), the destination
   decides: a row with the job file's first ``_dlt_id`` *and* this package's ``_dlt_load_id`` in the table
   (or staging table) it writes to (``evidence.job_committed``; a SQL job commits all its rows or none). Found:
   marked committed; not found: loaded. Where dlt will initialise the package again (its schema update was
   not applied), it empties the staging tables and ``replace`` tables with jobs: those jobs all load again
   and no evidence is consulted (exactly once). Filesystem jobs rewrite the same file names (exactly once).
   Where nothing can decide -- a function destination, a failed lookup, a file without ``_dlt_id`` -- the
   job loads again and the log names the table that may hold repeated rows (at most that job's rows; for a
   function destination dlt resumes from its last recorded batch: at most the batch in flight).
3. *Judged?* -- the schema guard judges every package before it is loaded (the ``judged`` verdict in the
   ledger), whoever extracted it.
4. dlt's ``load()`` then loads them. Failed jobs (``raise_on_failed_jobs=false``) are never reported as
   loaded: the package is kept with its failed jobs and fails its owner task.

Packages the task instance itself extracted in an earlier attempt are its load: it does not extract again.
Otherwise it extracts, normalizes (its packages are judged and, with a store, archived) and loads.

**After the load**, before anything that can still fail -- reporting, alerts, notifiers, asset events, XCom,
clean-up, ``BaseException`` included -- the done record is written. A retry of the same task instance (same
Airflow "clear") whose done record's load ids the destination confirms reports them without extracting.
Clean-up after a success removes the loaded packages (not those with failed jobs) and the store's entry.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_dlt_provider import _compat, _dlt_internals
from airflow_dlt_provider.exceptions import SchemaChangeError
from airflow_dlt_provider.runtime import evidence, failed_jobs, ledger

log = logging.getLogger(__name__)


@dataclass
class PreviousLoad:
    """Stands in for dlt's ``LoadInfo`` when the packages were loaded before this attempt's run."""

    loads_ids: list[str]
    load_packages: list[Any] = field(default_factory=list)
    has_failed_jobs: bool = False


@dataclass
class Finished:
    """What :func:`finish_pending` did with the pending packages of the folder."""

    mine: list[str] = field(default_factory=list)  # this task instance's packages, now loaded
    others: list[str] = field(default_factory=list)  # other tasks' packages, now loaded
    load_info: Any = None


@dataclass
class Place:
    """The folder dlt runs in, whose packages are whose, and the package store entry (if any)."""

    folder: Path
    owner: str
    store: Any = None
    store_name: str = ""  # the pipeline's name in the store
    binding_key: str = ""
    done_dir: Path | None = None  # where this worker keeps done records (ledger.py)

    @property
    def done_folder(self) -> Path:
        return self.done_dir or self.folder / ledger.DONE_FOLDER

    def for_owner(self, owner: str) -> Place:
        return Place(self.folder, owner, self.store, self.store_name, self.binding_key, self.done_dir)


# ---------------------------------------------------------------- who is extracting


def mark_extracting(folder: Path, owner: str) -> None:
    """Before dlt extracts: packages that appear without a recorded owner are ``owner``'s."""
    ledger.write_json(folder / ledger.EXTRACTING_FILE, {"owner": owner})


def extracting_owner(folder: Path) -> str | None:
    value = ledger.read_json(folder / ledger.EXTRACTING_FILE)
    owner = value.get("owner") if isinstance(value, dict) else None
    return owner if isinstance(owner, str) else None


def record_after_step(
    folder: Path,
    step: Any,
    step_info: Any,
    owner: str | None,
    accepts: str | None = None,
    owner_max_tries: Any = None,
) -> None:
    """The progress collector's ``on_end_trace_step``: owners after extract, rows after normalize (and,
    with ``accepts`` -- the task's ``on_schema_change`` when it is not ``"fail"`` -- the verdict)."""
    if isinstance(step_info, BaseException):
        return
    name = getattr(step, "step", None)
    if name == "extract" and owner is not None:
        load_ids = list(getattr(step_info, "loads_ids", None) or [])
        ledger.record_owner(folder, load_ids, owner, owner_max_tries)
        (folder / ledger.EXTRACTING_FILE).unlink(missing_ok=True)
    if name == "normalize":
        ledger.record_rows(folder, step_info)
        if accepts is not None and owner is not None:
            records = ledger.read_ledger(folder)
            for load_id in getattr(step_info, "loads_ids", None) or []:
                if ledger.owner_of(records, load_id) == owner:
                    ledger.update_ledger(folder, load_id, judged=f"accepted ({accepts})")


# ---------------------------------------------------------------- pending packages


def pending_load_ids(pipeline: Any) -> list[str]:
    """Load packages extracted or normalized but not fully loaded yet."""
    return sorted(
        set(pipeline.list_extracted_load_packages()) | set(pipeline.list_normalized_load_packages())
    )


def apply_store_progress(pipeline: Any, progress: Mapping[str, Mapping[str, Any]]) -> None:
    """Bring packages restored from the store's archive up to what dlt recorded while loading them."""
    for load_id in pipeline.list_normalized_load_packages():
        record = progress.get(load_id)
        if not record:
            continue
        try:
            marked = _dlt_internals.apply_package_progress(pipeline, load_id, dict(record))
        except Exception as error:  # a record that does not fit the archive: the destination decides
            log.warning(
                "package store: could not apply the recorded progress of load package %s (%s): its jobs "
                "are checked at the destination instead",
                load_id,
                _compat.redact(f"{type(error).__name__}: {error}"),
            )
            continue
        if marked:
            log.info(
                "load package %s: %d job(s) recorded as committed or failed by an earlier attempt (package "
                "store): dlt finalises them without loading them again",
                load_id,
                len(marked),
            )


def finish_pending(
    pipeline: Any,
    place: Place,
    *,
    normalize: Callable[[], Any],
    judge: Callable[[list[str]], None],
    restored_from_store: bool = False,
) -> Finished:
    """Load every pending package of the folder on dlt's evidence (module docstring, steps 1-4)."""
    pending = pending_load_ids(pipeline)
    records = ledger.read_ledger(place.folder)
    if not pending:
        return Finished(mine=_loaded_but_unrecorded(pipeline, place, records))
    extracting = extracting_owner(place.folder)
    mine = [
        load_id for load_id in pending if (ledger.owner_of(records, load_id) or extracting) == place.owner
    ]
    others = [load_id for load_id in pending if load_id not in mine]
    _log_found(pipeline, mine, others, records)
    confirmed = _complete_confirmed(pipeline, pipeline.list_normalized_load_packages())
    if set(pipeline.list_extracted_load_packages()):
        normalize()
    _reconcile_jobs(pipeline, [x for x in pending if x not in confirmed], restored_from_store)
    judge(pending_load_ids(pipeline))
    load_info = pipeline.load() if pending_load_ids(pipeline) else None
    record_for_owners(pipeline, place, others, records)
    _raise_failed_jobs_of(pipeline, mine, others, records)
    return Finished(mine=mine, others=others, load_info=load_info)


def record_for_owners(pipeline: Any, place: Place, others: Sequence[str], records: Mapping[str, Any]) -> None:
    """Write the done record of each other task whose packages this task loaded (or whose jobs failed).

    Its retry then reports them -- once the destination confirms them -- instead of extracting again, or
    fails naming the failed jobs; it never reports rows the destination does not have.
    """
    by_owner: dict[str, list[str]] = {}
    for load_id in others:
        owner = ledger.owner_of(records, load_id)
        if owner is not None and owner != place.owner:
            by_owner.setdefault(owner, []).append(load_id)
    for owner, load_ids in sorted(by_owner.items()):
        failed = failed_jobs.failed_job_lines(pipeline, load_ids)
        rows = ledger.rows_of(records, load_ids)
        record = done_record(owner, load_ids, rows, {}, ledger.owner_max_tries_of(records, load_ids))
        if failed:
            record["failed"] = failed
        write_done(place.for_owner(owner), record)
        log.warning(
            "recorded for %s that its load package(s) %s %s",
            owner,
            ", ".join(load_ids),
            "have failed jobs: it fails when it runs again"
            if failed
            else "are loaded: it reports them when it runs again",
        )


def _loaded_but_unrecorded(pipeline: Any, place: Place, records: Mapping[str, Any]) -> list[str]:
    """This task's packages that dlt completed but the attempt stopped before its done record (confirmed at
    the destination): they are this task's load, not a reason to extract again."""
    mine = [
        load_id
        for load_id in pipeline.list_completed_load_packages()
        if ledger.owner_of(records, load_id) == place.owner
    ]
    with_failed_jobs = failed_jobs.load_ids_with_failed_jobs(pipeline, mine)
    own = [load_id for load_id in mine if load_id not in with_failed_jobs]
    if not own:
        return []
    schema_name = pipeline.get_load_package_info(own[0]).schema_name
    confirmed = sorted(confirmed_loads(pipeline, schema_name, own) or [])
    if confirmed:
        log.warning(
            "load package(s) %s of this task were loaded before the earlier attempt stopped (confirmed at the "
            "destination): not extracting again; reporting them",
            ", ".join(confirmed),
        )
    return list(confirmed)


def confirmed_loads(pipeline: Any, schema_name: str, load_ids: Sequence[str]) -> set[str] | None:
    """The load ids the destination confirms in ``_dlt_loads``; all of them for a function destination,
    which keeps no such record (its own batch record decides); ``None`` when the destination cannot tell."""
    recorded = evidence.loads_recorded(pipeline, schema_name, load_ids)
    if recorded is not None:
        return recorded
    return set(load_ids) if evidence.is_function_destination(pipeline) else None


def _log_found(pipeline: Any, mine: list[str], others: list[str], records: Mapping[str, Any]) -> None:
    if mine:
        log.warning(
            "found %d pending load package(s) of an earlier attempt of this task (load ids: %s): loading them "
            "instead of extracting again",
            len(mine),
            ", ".join(mine),
        )
    if others:
        owners = sorted({ledger.owner_of(records, load_id) or "an unrecorded task" for load_id in others})
        log.warning(
            "found %d pending load package(s) of pipeline %r left by %s: loading them before this task extracts "
            "(load ids: %s; "
            "their source is not called again)",
            len(others),
            pipeline.pipeline_name,
            ", ".join(owners),
            ", ".join(others),
        )


def _complete_confirmed(pipeline: Any, normalized: Sequence[str]) -> set[str]:
    """Complete locally the packages whose load id the destination recorded in ``_dlt_loads``."""
    if not normalized:
        return set()
    by_schema: dict[str, list[str]] = {}
    for load_id in normalized:
        by_schema.setdefault(pipeline.get_load_package_info(load_id).schema_name, []).append(load_id)
    confirmed: set[str] = set()
    for schema_name, load_ids in by_schema.items():
        recorded = evidence.loads_recorded(pipeline, schema_name, load_ids) or set()
        for load_id in sorted(recorded):
            _dlt_internals.complete_package_locally(pipeline, load_id)
            log.warning(
                "load package %s was loaded completely before the earlier attempt stopped (its load id is in "
                "_dlt_loads at the destination): not loaded again",
                load_id,
            )
        confirmed |= recorded
    return confirmed


def _reconcile_jobs(pipeline: Any, load_ids: Sequence[str], restored_from_store: bool) -> None:
    normalized = set(pipeline.list_normalized_load_packages())
    for load_id in load_ids:
        if load_id not in normalized:
            continue
        package = pipeline.get_load_package_info(load_id)
        started = [
            job
            for job in package.jobs.get("started_jobs", [])
            if _dlt_internals.commit_marker(pipeline, load_id, Path(job.file_path).name) is None
        ]
        new = list(package.jobs.get("new_jobs", []))
        if started or (new and restored_from_store):
            _reconcile_package(pipeline, load_id, package.schema_name, started, new, restored_from_store)


def _reconcile_package(
    pipeline: Any, load_id: str, schema_name: str, started: list[Any], new: list[Any], restored: bool
) -> None:
    applied = _dlt_internals.schema_update_applied(pipeline, load_id)
    try:
        with pipeline.destination_client(schema_name) as client:
            if callable(getattr(client, "list_table_files", None)):
                return  # filesystem: a job rewrites the same file names; loading it again is exactly once
            tables = sorted({job.job_file_info.table_name for job in [*started, *new]})
            emptied: set[str] = set()
            if not applied:  # dlt initialises the package again: it empties these tables first
                emptied = _dlt_internals.tables_truncated_by_init(client, tables)
                emptied |= _dlt_internals.tables_reset_by_refresh(pipeline, load_id)
            for job in [*started, *new]:
                _decide_job(pipeline, client, load_id, job, emptied, was_started=job in started or restored)
    except Exception as error:  # e.g. the destination is not reachable: dlt's own load decides and fails
        log.warning(
            "could not check at the destination which jobs of load package %s committed (%s): they load "
            "again; tables %s may hold repeated rows",
            load_id,
            _compat.redact(f"{type(error).__name__}: {error}"),
            ", ".join(sorted({j.job_file_info.table_name for j in started})) or "(none started)",
        )


def _decide_job(
    pipeline: Any, client: Any, load_id: str, job: Any, emptied: set[str], was_started: bool
) -> None:
    name = Path(job.file_path).name
    table = job.job_file_info.table_name
    if table in emptied:
        return  # dlt initialises the package again and empties the table first: the job loads again once
    file_format = job.job_file_info.file_format
    verdict = evidence.job_committed(client, load_id, Path(job.file_path), table, file_format)
    if verdict is True:
        if job.state == "new_jobs":
            _dlt_internals.start_job(pipeline, load_id, name)
        _dlt_internals.write_commit_marker(pipeline, load_id, name)
        log.warning(
            "load job %s of package %s had committed its rows before the earlier attempt stopped (a row with "
            "its first _dlt_id and this load id is in table %r): marked completed, not loaded again",
            name,
            load_id,
            table,
        )
    elif verdict is None and was_started:
        log.warning(
            "load job %s of package %s may have committed before the earlier attempt stopped and the "
            "destination cannot tell: it loads again, so table %r may hold repeated rows (at most the rows of "
            "this job%s)",
            name,
            load_id,
            table,
            "; a function destination resumes after its last recorded batch"
            if evidence.is_function_destination(pipeline)
            else "",
        )


def _raise_failed_jobs_of(
    pipeline: Any, mine: Sequence[str], others: Sequence[str], records: Mapping[str, Any]
) -> None:
    """Failed jobs of this task's packages fail it; other tasks' failed jobs are kept for their owners."""
    mine_failed = failed_jobs.failed_job_lines(pipeline, mine)
    if others:
        theirs = failed_jobs.failed_job_lines(pipeline, others)
        if theirs:
            log.warning(
                "load job(s) of other tasks' packages failed terminally and are kept for those tasks, which "
                "fail when they run again:\n  %s",
                "\n  ".join(theirs),
            )
    if mine_failed:
        failed_jobs.raise_failed_jobs(
            mine_failed, "An earlier attempt of this task extracted load packages, but"
        )


# ---------------------------------------------------------------- the schema guard over pending packages


def refused_changes(
    pipeline: Any, load_ids: Sequence[str], baseline: Any, expected: Callable[[list[str]], set[str]]
) -> dict[str, tuple[list[str], dict[str, list[str]]]]:
    """``{load_id: (new tables, new columns)}`` that the packages would add beyond ``baseline``."""
    from airflow_dlt_provider.runtime.schema_guard import schema_diff
    from airflow_dlt_provider.runtime.summary import is_dlt_table

    refused = {}
    normalized = set(pipeline.list_normalized_load_packages())
    for load_id in load_ids:
        if load_id not in normalized:
            continue
        after = {name: list(columns) for name, columns in baseline.tables.items()}
        for name, table in _dlt_internals.package_schema_tables(pipeline, load_id).items():
            if is_dlt_table(name):
                continue
            typed = [c for c, col in (table.get("columns") or {}).items() if col.get("data_type")]
            if typed:
                after[name] = sorted(set(after.get(name, [])) | set(typed))
        new_tables, new_columns = schema_diff(baseline.tables, after)
        new_tables = [t for t in new_tables if t not in expected(new_tables)]
        if new_tables or new_columns:
            refused[load_id] = (new_tables, new_columns)
    return refused


def judge_packages(
    pipeline: Any,
    place: Place,
    load_ids: Sequence[str],
    *,
    mode: str,
    baseline: Any,
    expected: Callable[[list[str]], set[str]],
    forget_local_state: Callable[[], None],
) -> None:
    """Judge every normalized package not judged yet with ``on_schema_change``; refuse before loading."""
    from airflow_dlt_provider.runtime.schema_guard import describe_refused_changes

    records = ledger.read_ledger(place.folder)
    unjudged = [x for x in load_ids if "judged" not in records.get(x, {})]
    if not unjudged:
        return
    guard = mode == "fail" and (bool(baseline.tables) or not baseline.known)
    refused = refused_changes(pipeline, unjudged, baseline, expected) if guard else {}
    for load_id in unjudged:
        if load_id not in refused:
            ledger.update_ledger(place.folder, load_id, judged="passed")
    if not refused:
        return
    owners = {ledger.owner_of(records, x) or "an unrecorded task" for x in refused}
    tables = sorted({t for new_tables, _ in refused.values() for t in new_tables})
    columns: dict[str, list[str]] = {}
    for _, new_columns in refused.values():
        for table, cols in new_columns.items():
            columns[table] = sorted(set(columns.get(table, [])) | set(cols))
    message = describe_refused_changes(pipeline, tables, columns)
    fields = {"pipeline_name": pipeline.pipeline_name, "new_tables": tables, "new_columns": columns}
    if owners == {place.owner}:
        forget_local_state()
        raise SchemaChangeError(message, **fields) from baseline.sync_error
    raise SchemaChangeError(
        f"{message} The refused load package(s) {', '.join(sorted(refused))} were extracted by "
        f"{', '.join(sorted(owners))}; they stay in the pipeline's folder, unloaded, until that change is "
        "accepted or the packages are deleted.",
        **fields,
    ) from baseline.sync_error


# ---------------------------------------------------------------- done records


def done_record(
    owner: str,
    load_ids: Sequence[str],
    rows: Mapping[str, int],
    summary_facts: Mapping[str, Any],
    max_tries: Any,
) -> dict[str, Any]:
    return {
        "task": owner,
        "load_ids": list(load_ids),
        "rows": dict(rows),
        "facts": json.loads(json.dumps(dict(summary_facts), default=str)),
        "max_tries": max_tries if isinstance(max_tries, int) else None,
        "written_at": datetime.now(timezone.utc).isoformat(),
        "written_at_epoch": time.time(),
    }


def write_done(place: Place, record: dict[str, Any]) -> None:
    """Record that this task instance's packages are loaded: locally and, with a store, in the store."""
    name = ledger.done_name(place.owner)
    done_dir = place.done_folder
    done_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ledger.write_json(done_dir / name, record)
    if place.store is not None:
        try:
            place.store.put_done(place.store_name, name, record)
        except Exception as error:
            log.error(
                "package store: could not record that this task's packages are loaded (%s): a retry on "
                "another worker checks the destination and may extract again",
                _compat.redact(f"{type(error).__name__}: {error}"),
            )


def read_done(place: Place, max_tries: Any) -> dict[str, Any] | None:
    """This task instance's done record, if any, from this worker or the store (checked, not yet confirmed)."""
    name = ledger.done_name(place.owner)
    record = ledger.valid_done_record(ledger.read_json(place.done_folder / name), place.owner)
    if record is None and place.store is not None:
        try:
            record = ledger.valid_done_record(place.store.get_done(place.store_name, name), place.owner)
        except Exception as error:
            log.warning(
                "package store: could not read this task's done record (%s)",
                _compat.redact(f"{type(error).__name__}: {error}"),
            )
    if record is None:
        return None
    recorded_tries = record.get("max_tries")
    if isinstance(max_tries, int) and isinstance(recorded_tries, int) and max_tries != recorded_tries:
        log.info(
            "this task instance loaded load package(s) %s in an earlier try, and it was cleared since: it "
            "extracts and loads again",
            ", ".join(record["load_ids"]) or "(none)",
        )
        return None
    return record


def confirmed_done(pipeline: Any, record: Mapping[str, Any], schema_name: str) -> bool:
    """Whether the destination confirms a done record's load ids (``_dlt_loads``); unknown counts as yes
    only where the destination keeps no such record (a function destination)."""
    load_ids = list(record["load_ids"])
    if not load_ids:
        return True
    recorded = confirmed_loads(pipeline, schema_name, load_ids)
    if recorded is None:
        log.warning(
            "the destination cannot confirm load package(s) %s of this task's done record: extracting "
            "and loading again (at least once)",
            ", ".join(load_ids),
        )
        return False
    missing = [x for x in load_ids if x not in recorded]
    if missing:
        log.warning(
            "this task's done record names load package(s) %s that the destination has not recorded in "
            "_dlt_loads: the record is not trusted; extracting and loading again",
            ", ".join(missing),
        )
        return False
    return True


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
        with_failed_jobs = failed_jobs.load_ids_with_failed_jobs(pipeline, completed)
        return sorted(set(pending_load_ids(pipeline)) | with_failed_jobs)
    finally:
        pipeline.deactivate()


def describe_kept(working_dir: Path, pipeline_name: str, shared: bool = False) -> str:
    """What a failed attempt leaves in ``working_dir`` and what the next attempt will do with it."""
    if not (working_dir / pipeline_name).exists():
        return f"nothing was kept in {working_dir}: the retry extracts again (state from the destination)"
    try:
        import dlt

        pipeline = dlt.attach(pipeline_name=pipeline_name, pipelines_dir=str(working_dir))
        try:
            pending = pending_load_ids(pipeline)
        finally:
            # attach() made it the current pipeline of this process; the next task run here
            # (dag.test, a test session) must not inherit its destination settings
            pipeline.deactivate()
    except Exception as error:  # the folder may be half written when the failure hit early
        return f"kept {working_dir} (its load packages could not be listed: {error})"
    if not pending:
        return f"kept {working_dir}; no load package was pending, so the retry extracts again"
    text = (
        f"kept {working_dir} with {len(pending)} pending load package(s) ({', '.join(pending)}): the retry "
        "loads them and does not extract again (jobs the destination shows committed are not loaded again)"
    )
    if shared:
        text += (
            " (it is the pipeline's folder for this destination and dataset: if another task of the pipeline "
            "runs first, in any DAG run, that task loads them before extracting its own data)"
        )
    return text
