"""What happens inside one task: working dir, destination, dlt logging, the dlt run and its summary.

Nothing here runs at DAG parse time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_dlt_provider import _compat
from airflow_dlt_provider.authoring.arguments import DEFAULT_PROGRESS_PERIOD_SECONDS, schema_change_mode
from airflow_dlt_provider.authoring.sources import SourceSpec, instantiate_source, select_resources
from airflow_dlt_provider.exceptions import InvalidArgumentError, PipelineBusyError
from airflow_dlt_provider.pools.names import pool_name_for
from airflow_dlt_provider.runtime import workdir
from airflow_dlt_provider.runtime.dlt_config import airflow_variable_lookups
from airflow_dlt_provider.runtime.summary import build_summary, table_columns
from airflow_dlt_provider.runtime.workdir import default_duckdb_path, task_working_dir

log = logging.getLogger(__name__)


@dataclass
class RunRequest:
    """Everything one task needs to run one pipeline; built by the operator at execute time."""

    source: SourceSpec
    pipeline_name: str
    source_kwargs: Mapping[str, Any] = field(default_factory=dict)
    resources: list[str] | None = None
    destination: Any = None
    destination_conn_id: str | None = None
    dataset_name: str | None = None
    source_conn_ids: Mapping[str, str] = field(default_factory=dict)
    run_kwargs: Mapping[str, Any] = field(default_factory=dict)
    working_dir: Path | None = None
    progress_period_seconds: float = DEFAULT_PROGRESS_PERIOD_SECONDS
    on_schema_change: Any = "warn"  # "warn", "fail", "ignore" or an alert (see schema_guard.py, alerts.py)
    expect_rows: Mapping[str, Any] = field(default_factory=dict)  # {table: arguments.RowExpectation}
    holds_pipeline_pool: bool = False  # the task runs in the pipeline's own one-slot pool
    details: Any = None  # an assets.RunDetails to fill (destination location, columns) for assets/lineage


# ---------------------------------------------------------------- destination and credentials


def build_destination(request: RunRequest) -> Any:
    """The dlt destination for ``request``: from a connection, a name/factory, or the DuckDB default."""
    if request.destination_conn_id:
        from airflow_dlt_provider.connections import destination_from_connection

        return destination_from_connection(request.destination_conn_id, request.destination)
    if request.destination is None or request.destination == "duckdb":
        import dlt

        path = default_duckdb_path(request.pipeline_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(credentials=str(path))
    return request.destination


def source_credentials(source_conn_ids: Mapping[str, str]) -> dict[str, Any]:
    """Factory keyword arguments built from Airflow connections (``{argument: credentials}``)."""
    if not source_conn_ids:
        return {}
    from airflow_dlt_provider.connections import source_credentials_from_connections

    return source_credentials_from_connections(source_conn_ids)


# ---------------------------------------------------------------- logging


class _ForwardToRoot(logging.Handler):
    """Hands dlt's records to the root logger, which the task runner points at the task log."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger().handle(record)


@contextlib.contextmanager
def dlt_logs_to_task_log() -> Iterator[None]:
    """Send dlt's log records into the task log at their own level.

    dlt puts a stderr handler on its logger and stops propagation; under Airflow 3 everything on stderr
    lands in the task log as ERROR. While a task runs, the dlt logger's only handler forwards records to
    the root logger instead. dlt reuses the first handler it finds when it re-initialises logging, so the
    forwarder survives that. The previous handlers come back afterwards.
    """
    from airflow_dlt_provider import _dlt_internals

    names = {"dlt"}
    current = _dlt_internals.dlt_logger_name()
    if current is not None:
        names.add(current)
    forwarder = _ForwardToRoot()
    saved: dict[str, list[logging.Handler]] = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = list(logger.handlers)
        for handler in saved[name]:
            logger.removeHandler(handler)
        logger.addHandler(forwarder)
    try:
        yield
    finally:
        for name, handlers in saved.items():
            logger = logging.getLogger(name)
            logger.removeHandler(forwarder)
            for handler in handlers:
                logger.addHandler(handler)


def progress_collector(
    period_seconds: float,
    rows_dir: Path | None = None,
    owner: str | None = None,
    checkpoint: Callable[[], None] | None = None,
    accepts: str | None = None,
    owner_max_tries: Any = None,
    check: Callable[[], None] | None = None,
) -> Any:
    """dlt progress collector writing a line per ``period_seconds`` to the task log.

    With ``rows_dir``, it also records the rows of every package when a normalize step ends
    (``ledger.LEDGER_FILE``), before the load starts, and with ``owner`` the task each package was extracted
    for when an extract step ends. ``checkpoint`` is called when a normalize step
    ended, before the load. ``check`` (the holder's ``Holding.check``) is called when dlt starts a step --
    extract, normalize, and the load of each package, before any of its jobs -- on dlt's main thread, where
    what it raises stops the run (dlt only logs what the end-of-step callbacks raise).
    """
    collector = _sampling_log_collector_type()(
        log_period=period_seconds,
        logger=log.getChild("progress"),
        log_level=logging.INFO,
        dump_system_stats=False,
    )
    collector.rows_dir = rows_dir
    collector.owner = owner
    collector.checkpoint = checkpoint
    collector.accepts = accepts
    collector.owner_max_tries = owner_max_tries
    collector.check = check
    return collector


@functools.cache
def _sampling_log_collector_type() -> type:
    """dlt's ``LogCollector`` (``dlt.progress.log``) that reads the clock once per ``CLOCK_EVERY`` plain
    counter updates, and records rows per package when a normalize step ends.

    dlt calls ``update()`` once per extracted item; the stock collector reads the clock each time, which
    measured about 2% of a 10^5-row load (bench/bench_overhead.py).
    """
    import dlt

    from airflow_dlt_provider.runtime import resume

    class SamplingLogCollector(dlt.progress.log):  # type: ignore[misc,name-defined]
        CLOCK_EVERY = 500
        _updates_since_clock = 0
        rows_dir: Path | None = None
        owner: str | None = None
        checkpoint: Callable[[], None] | None = None
        accepts: str | None = None
        owner_max_tries: Any = None
        check: Callable[[], None] | None = None

        def _start(self, step: str) -> None:
            if self.check is not None:
                self.check()
            super()._start(step)

        def on_end_trace_step(
            self, trace: Any, step: Any, pipeline: Any, step_info: Any, send_state: bool
        ) -> None:
            super().on_end_trace_step(trace, step, pipeline, step_info, send_state)
            if self.rows_dir is not None:
                resume.record_after_step(
                    self.rows_dir, step, step_info, self.owner, self.accepts, self.owner_max_tries
                )
            normalized = getattr(step, "step", None) == "normalize" and not isinstance(
                step_info, BaseException
            )
            if self.checkpoint is not None and normalized:
                self.checkpoint()

        def update(
            self,
            name: str,
            inc: int = 1,
            total: Any = None,
            inc_total: Any = None,
            message: Any = None,
            label: Any = None,
        ) -> None:
            plain = label is None and total is None and inc_total is None and message is None
            if not plain or name not in self.counters:
                super().update(name, inc, total, inc_total, message, label)
                return
            self.counters[name] += inc
            self._updates_since_clock += 1
            if self._updates_since_clock >= self.CLOCK_EVERY:
                self._updates_since_clock = 0
                self.maybe_log()

    return SamplingLogCollector


# ---------------------------------------------------------------- the run


def _always_held() -> None:
    """The check of a task that holds no store lease: nothing can take it over."""


@dataclass(frozen=True)
class _Place:
    """Where one task runs dlt: its folder, whose packages it holds and where they wait between tasks."""

    working_dir: Path
    owner: str  # the task key: who packages extracted here belong to
    shared: bool = False  # the pipeline's folder for its binding (shared under the pool)
    store: Any = None  # a package_store.PackageStore, only for the pipeline's folder
    binding: Any = None  # a binding.Binding, for the pipeline's folder
    done_dir: Path | None = None  # where this worker keeps done records (ledger.py)
    max_tries: Any = None  # the task instance's max_tries: a changed value means it was cleared
    check: Callable[[], None] = _always_held  # raises once the pipeline's store lease is lost (_held)

    def held(self, check: Callable[[], None]) -> _Place:
        """This place under the holder's ``check``: its store refuses every write once the lease is lost."""
        store = None if self.store is None else self.store.guarded(check)
        return dataclasses.replace(self, check=check, store=store)

    def resume_place(self, pipeline_name: str) -> Any:
        from airflow_dlt_provider.runtime.resume import Place

        key = "" if self.binding is None else self.binding.key
        return Place(self.working_dir, self.owner, self.store, pipeline_name, key, self.done_dir)


def run(request: RunRequest, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run one pipeline for one task and return the JSON load summary (``DltRunOperator`` in
    docs/reference/api.md; its keys are shown in docs/quickstart.md).

    The resume model (what is kept, what a retry does and why it is safe) is in resume.py and
    docs/concepts/retries.md; terminal errors fail without using retries (see failures.py).

    dlt runs at the start of a frame-stack chunk of its own (frame_stack.py): how deep the executor calls the
    task (a Celery worker: some 60 frames) must not decide whether dlt's loops thrash CPython's frame stack.
    """
    from airflow_dlt_provider.runtime import frame_stack

    return frame_stack.call_with_headroom(_run, request, context)


def _run(request: RunRequest, context: Mapping[str, Any] | None) -> dict[str, Any]:
    from airflow_dlt_provider.runtime import failures, processes

    # every dlt call of the task, including the summary and the failure report, resolves its config in here
    with airflow_variable_lookups(secrets_toml=True, pipeline_name=request.pipeline_name):
        place = _place_for(request, context)
        with _held(place, request.pipeline_name, context) as check:
            place = place.held(check)
            # the store's upload comes after the failure report (it names the local folder), which keeps it
            # private; dlt's worker processes may start even inside a daemonic task process (processes.py)
            with (
                _kept_in_store(place, request.pipeline_name),
                failures.classified(place.working_dir, request.pipeline_name, shared=place.shared),
                processes.worker_processes_allowed(request.pipeline_name),
            ):
                return _run_in(place, request, context)


@contextlib.contextmanager
def _held(
    place: _Place, pipeline_name: str, context: Mapping[str, Any] | None
) -> Iterator[Callable[[], None]]:
    """One holder of the pipeline's folders at a time, whatever the pool's slots say (holder.py): a lock on
    this worker and, with a package store, a lease in the store.

    Yields the holder's check (``Holding.check``): it raises ``PipelineLeaseLostError`` once the lease was
    taken over. ``run`` passes it to the store (before every write), dlt's progress collector (before every
    step), the journal (each time dlt records progress, on its load threads too) and ``_clean_up``.
    """
    if not place.shared or context is None:
        yield _always_held
        return
    from airflow_dlt_provider.runtime.holder import hold_pipeline, holder_from_context, holder_settings

    wait_seconds, lease_seconds = holder_settings()
    store_entry = None if place.store is None else place.store.holder_entry(pipeline_name)
    with hold_pipeline(
        place.working_dir.parent,
        holder=holder_from_context(context),
        store_entry=store_entry,
        wait_seconds=wait_seconds,
        lease_seconds=lease_seconds,
        lease_scope=pipeline_name,
    ) as holding:
        # prepared before the wait, the folder may be gone since: the holder this task waited for removes it
        # after its success (_clean_up)
        workdir.prepare(place.working_dir)
        yield holding.check


def _place_for(request: RunRequest, context: Mapping[str, Any] | None) -> _Place:
    from airflow_dlt_provider.runtime.binding import binding_for
    from airflow_dlt_provider.runtime.package_store import configured_store
    from airflow_dlt_provider.runtime.store_signing import signing_keys

    if request.working_dir is not None:  # a folder the caller chose (tests, benchmarks)
        request.working_dir.mkdir(parents=True, exist_ok=True)
        owner = workdir.task_key(context) if context is not None else "-"
        return _Place(request.working_dir, owner, done_dir=request.working_dir / ".done")
    if context is None:
        raise ValueError("either request.working_dir or a task context is required")
    owner = workdir.task_key(context)
    max_tries = getattr(context.get("ti"), "max_tries", None)
    done_dir = workdir.done_dir(request.pipeline_name)
    if not request.holds_pipeline_pool:
        working_dir = task_working_dir(context)
        log.info(
            "this task does not run in its pipeline's pool %r (pool: %r): its pending load packages stay "
            "private to this task instance in %s (its retries on this worker finish them; other tasks of the "
            "pipeline do not, and [dlt] package_store is not used)",
            pool_name_for(request.pipeline_name),
            getattr(context.get("ti"), "pool", None),
            working_dir,
        )
        workdir.prepare(working_dir)
        return _Place(working_dir, owner, done_dir=done_dir, max_tries=max_tries)
    try:
        store = configured_store()
        if store is not None:  # everything written to the store is signed (store_signing.py): a key is needed
            signing_keys()
    except InvalidArgumentError as error:  # every retry would hit it again
        raise _compat.airflow_fail_exception()(str(error)) from error
    binding = binding_for(build_destination(request), request.dataset_name)
    working_dir = workdir.pipeline_working_dir(request.pipeline_name, binding.key)
    workdir.prepare(working_dir)
    return _Place(working_dir, owner, True, store, binding, done_dir, max_tries)


@contextlib.contextmanager
def _kept_in_store(place: _Place, pipeline_name: str) -> Iterator[None]:
    """Keep the pipeline folder in the store after a failed attempt (``_restore_from_store`` reads it back)."""
    if place.store is None:
        yield
        return
    try:
        yield
    except BaseException as error:
        if _dropped_local_state(error) and not _has_load_packages(place.working_dir, pipeline_name):
            _forget_in_store(place, pipeline_name)
        else:
            _keep_in_store(place, pipeline_name)
        raise


def _has_load_packages(working_dir: Path, pipeline_name: str) -> bool:
    """Whether the pipeline folder holds a load package in any of dlt's package states."""
    return any(working_dir.glob(f"{pipeline_name}/load/*/*"))


def _dropped_local_state(error: BaseException) -> bool:
    """A refused schema change or data contract: the guard dropped the folder's packages and state."""
    from airflow_dlt_provider.exceptions import DataContractError, SchemaChangeError
    from airflow_dlt_provider.runtime.failures import error_chain

    # failures.classified may have turned it into Airflow's fail exception
    return any(
        isinstance(e, (SchemaChangeError, DataContractError)) for e in error_chain(error, context=True)
    )


def _forget_in_store(place: _Place, pipeline_name: str) -> None:
    """The store forgets what the guard refused, as the worker did: the next task must not load it."""
    try:
        place.store.remove(pipeline_name, place.binding.key)
    except Exception as error:
        log.error(
            "could not remove the refused load package(s) from the package store %s (%s): the next task of "
            "the pipeline judges them again and refuses them",
            place.store.where(pipeline_name, place.binding.key),
            _compat.redact(f"{type(error).__name__}: {error}"),
        )


def _restore_from_store(place: _Place, pipeline_name: str) -> bool:
    """Replace the local folder by the store's copy and what dlt recorded since (``True`` when there was one).

    The store is never behind this worker: every change dlt makes while loading reaches it as it happens
    (journal.py), and the archive is written after normalize and after a failure. A local folder that the
    store does not know (an upload failed) is used as it is.
    """
    store, key = place.store, place.binding.key
    try:
        if not store.has_copy(pipeline_name, key):
            if _has_load_packages(place.working_dir, pipeline_name):
                log.warning(
                    "package store: %s holds no copy of this pipeline, but this worker's folder %s holds load "
                    "packages (an upload had failed): they are used from here",
                    store.where(pipeline_name, key),
                    place.working_dir,
                )
            return False
        store.download(pipeline_name, key, place.working_dir, pipeline_name)
    except Exception as error:  # e.g. the store is unreachable: retryable, nothing was touched yet
        raise RuntimeError(
            f"could not read the package store {store.where(pipeline_name, key)}: "
            + _compat.redact(f"{type(error).__name__}: {error}")
        ) from error
    return True


def _checkpoint(place: _Place, pipeline_name: str) -> Callable[[], None] | None:
    """Copy the normalized packages to the store before the load starts (``None`` without a store)."""
    store = place.store
    if store is None:
        return None

    def checkpoint() -> None:
        workdir.make_owner_only(place.working_dir)
        try:
            store.upload(pipeline_name, place.binding.key, place.working_dir)
        except PipelineBusyError:  # the lease was lost: the load step's start raises it (collector's check)
            raise
        except Exception as error:  # the load goes on; the packages stay in the local folder
            log.error(
                "could not copy the normalized load packages to the package store before loading (%s: %s): "
                "if this worker dies during the load, only a task on this worker finds them",
                type(error).__name__,
                _compat.redact(str(error)),
            )

    return checkpoint


def _keep_in_store(place: _Place, pipeline_name: str) -> None:
    workdir.keep_after_failure(place.working_dir, pipeline_name)
    if not _has_load_packages(place.working_dir, pipeline_name):
        return  # nothing to finish: the store keeps what it has (its progress records stay valid)
    try:
        place.store.upload(pipeline_name, place.binding.key, place.working_dir)
    except PipelineBusyError as lost:  # the lease was taken over: the store's copy is the new holder's now
        log.error(
            "this task lost the pipeline's lease (%s): its folder is not copied to the package store, and is "
            "removed from this worker (the task holding the lease now continues from the store's copy; what "
            "this attempt extracted and had not copied there is extracted again)",
            lost,
        )
        workdir.remove(place.working_dir)
        return
    except Exception as error:  # never hide the real failure behind the store's
        log.error(
            "could not keep the pipeline folder in the package store (%s: %s): it stays on this worker in %s; "
            "the store keeps its earlier copy and what dlt recorded while loading",
            type(error).__name__,
            _compat.redact(str(error)),
            place.working_dir,
        )
        return
    workdir.remove(place.working_dir)  # the store holds it now: no stale copy left on this worker


def _run_in(place: _Place, request: RunRequest, context: Mapping[str, Any] | None) -> dict[str, Any]:
    import dlt

    from airflow_dlt_provider.runtime import failed_jobs, intervals, journal, resume, schema_guard
    from airflow_dlt_provider.runtime.binding import other_bindings_note, write_binding

    working_dir = place.working_dir
    rplace = place.resume_place(request.pipeline_name)
    restored = _restore_from_store(place, request.pipeline_name) if place.store is not None else False
    if place.binding is not None:
        write_binding(working_dir, place.binding)
        for other in other_bindings_note(working_dir.parent, place.binding):
            log.warning(
                "pipeline %r also has load packages pending for %s: they belong to that destination and "
                "dataset and are left for its tasks (this task loads into %s)",
                request.pipeline_name,
                other,
                place.binding.describe(),
            )
    mode = schema_change_mode(request.on_schema_change)
    with dlt_logs_to_task_log():
        kwargs = {**dict(request.source_kwargs or {}), **source_credentials(request.source_conn_ids)}
        source = select_resources(instantiate_source(request.source, kwargs), request.resources)
        destination = build_destination(request)
        started_at = datetime.now(timezone.utc)
        # without dataset_name, dlt's configuration decides (PIPELINES__<NAME>__DATASET_NAME, config.toml,
        # the dlt_secrets_toml Variables): dlt ignores it when the argument is passed as None
        dataset: dict[str, Any] = (
            {} if request.dataset_name is None else {"dataset_name": request.dataset_name}
        )
        pipeline = dlt.pipeline(
            pipeline_name=request.pipeline_name,
            pipelines_dir=str(working_dir),
            destination=destination,
            progress=progress_collector(
                request.progress_period_seconds,
                rows_dir=working_dir,
                owner=place.owner,
                checkpoint=_checkpoint(place, request.pipeline_name),
                accepts=None if mode == "fail" else mode,
                owner_max_tries=place.max_tries,
                check=place.check,
            ),
            **dataset,
        )
        if restored:
            resume.apply_store_progress(
                pipeline, place.store.read_progress(request.pipeline_name, rplace.binding_key)
            )
        baseline = schema_guard.sync_and_read_baseline(pipeline, source)  # decides this task's first run
        done = resume.read_done(rplace, place.max_tries)
        if done is not None and done.get("failed"):
            failed_jobs.raise_failed_jobs(
                done["failed"],
                "This task's load packages were loaded (by it or by another task of the pipeline), but",
            )
        if done is not None and resume.confirmed_done(pipeline, done, source.schema.name):
            return _report_done(_Loaded(place, request, context, pipeline, source), done)
        log.info(
            "dlt pipeline %r: loading resources %s of source %r into %s dataset %r",
            pipeline.pipeline_name,
            ", ".join(source.selected_resources.keys()),
            source.name,
            pipeline.destination.destination_name,
            pipeline.dataset_name,
        )
        step_started = time.monotonic()

        def judge(load_ids: list[str]) -> None:
            resume.judge_packages(
                pipeline,
                rplace,
                load_ids,
                mode=mode,
                baseline=baseline,
                expected=lambda tables: schema_guard.expected_new_tables(baseline, pipeline, tables),
                forget_local_state=lambda: schema_guard.forget_local_state(pipeline),
            )

        with (
            intervals.data_interval_for_dlt(context, source),
            journal.journaled(pipeline, place.store, request.pipeline_name, rplace.binding_key, place.check),
        ):
            finished = resume.finish_pending(
                pipeline,
                rplace,
                normalize=lambda: _normalize_pending(pipeline, request.run_kwargs),
                judge=judge,
                restored_from_store=restored,
            )
            if finished.mine:
                load_ids = finished.mine
                load_info = resume.PreviousLoad(loads_ids=load_ids)
            else:
                resume.mark_extracting(working_dir, place.owner)
                load_info = schema_guard.run_pipeline(
                    pipeline,
                    source,
                    request.run_kwargs,
                    on_schema_change=mode,
                    baseline=baseline,
                    judge=judge,
                )
                load_ids = list(getattr(load_info, "loads_ids", None) or [])
        elapsed = time.monotonic() - step_started
    records = _ledger_rows(working_dir, load_ids)
    finished_at = datetime.now(timezone.utc)
    summary = build_summary(pipeline, load_info, started_at, finished_at, baseline.first_run)
    if finished.mine or not summary.get("rows"):
        summary["rows"] = records
        summary["columns"] = table_columns(pipeline, records)
    # the load is done: record it before anything that can still fail or be interrupted (resume.py)
    resume.write_done(
        rplace,
        resume.done_record(place.owner, load_ids, summary["rows"], _summary_facts(summary), place.max_tries),
    )
    log.info("dlt pipeline %r finished in %.1f s", pipeline.pipeline_name, elapsed)
    return _report(_Loaded(place, request, context, pipeline, source), summary, load_info, baseline)


def _ledger_rows(folder: Path, load_ids: list[str]) -> dict[str, int]:
    from airflow_dlt_provider.runtime import ledger

    return ledger.rows_of(ledger.read_ledger(folder), load_ids)


def _summary_facts(summary: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("schema_changes", "first_run", "started_at", "finished_at", "columns")
    return {key: summary.get(key) for key in keys}


@dataclass(frozen=True)
class _Loaded:
    """A task's run once dlt's load is done: its place, request, context, pipeline and source."""

    place: _Place
    request: RunRequest
    context: Mapping[str, Any] | None
    pipeline: Any
    source: Any


def _report_done(run: _Loaded, done: Mapping[str, Any]) -> dict[str, Any]:
    """Report what an earlier attempt of this task instance loaded (its done record, confirmed)."""
    from airflow_dlt_provider.runtime import schema_guard
    from airflow_dlt_provider.runtime.summary import dataset_name_used

    pipeline, source = run.pipeline, run.source
    log.warning(
        "an earlier attempt of this task instance loaded load package(s) %s (the destination confirms them "
        "in _dlt_loads) and stopped before it finished: not extracting again; reporting them",
        ", ".join(done["load_ids"]) or "(none: nothing was extracted)",
    )
    facts = dict(done.get("facts") or {})
    summary: dict[str, Any] = {
        "pipeline_name": pipeline.pipeline_name,
        "destination": pipeline.destination.destination_name,
        "dataset_name": dataset_name_used(pipeline),
        "load_ids": list(done["load_ids"]),
        "rows": dict(done["rows"]),
        "schema_changes": facts.get("schema_changes") or {"new_tables": [], "new_columns": {}},
        "started_at": facts.get("started_at"),
        "finished_at": facts.get("finished_at"),
        "first_run": bool(facts.get("first_run")),
        "columns": facts.get("columns") or table_columns(pipeline, done["rows"]),
    }
    from airflow_dlt_provider.runtime.resume import PreviousLoad

    load_info = PreviousLoad(loads_ids=list(done["load_ids"]))
    baseline = schema_guard.read_baseline(pipeline, source.schema.name, source.selected_resources.keys())
    return _report(run, summary, load_info, baseline)


def _report(run: _Loaded, summary: dict[str, Any], load_info: Any, baseline: Any) -> dict[str, Any]:
    """Everything after the load: log, row expectations, lineage details, clean-up and alerts."""
    from airflow_dlt_provider.runtime import alerts, reporting, schema_guard

    request, pipeline = run.request, run.pipeline
    expected = schema_guard.expected_new_tables(baseline, pipeline, summary["schema_changes"]["new_tables"])
    mode = schema_change_mode(request.on_schema_change)
    reporting.log_run(pipeline, load_info, summary, mode, expected)
    changes, _ = reporting.split_schema_changes(summary["schema_changes"], expected)
    summary["row_expectations"] = _row_expectations(request, pipeline, run.source, summary["rows"])
    alerts.log_row_expectations(request.pipeline_name, summary["row_expectations"])
    if request.details is not None:
        request.details.fill(pipeline, summary["rows"])
    _clean_up(run.place, request, run.context, pipeline)
    if pipeline.is_active:  # a later run in this process (dag.test, a test session) must not inherit it
        pipeline.deactivate()
    handlers = alerts.handlers_for(
        request.on_schema_change, changes, request.expect_rows, summary["row_expectations"]
    )
    alerts.send_alerts(handlers, summary, changes, run.context)
    return summary


def _row_expectations(
    request: RunRequest, pipeline: Any, source: Any, rows: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """The summary's ``row_expectations`` for the expected tables this task loads (see alerts.py)."""
    from airflow_dlt_provider.runtime import alerts, schema_guard

    if not request.expect_rows:
        return {}
    schema_tables = schema_guard.tables_of_schema(pipeline, source.schema.name)
    owners = {table: schema_guard.resource_of(schema_tables, table) for table in schema_tables}
    tables = alerts.tables_of_task(
        request.expect_rows,
        rows,
        owners,
        set(source.selected_resources.keys()),
        all_resources=request.resources is None,
    )
    return alerts.check_rows(request.expect_rows, rows, tables)


def _normalize_pending(pipeline: Any, run_kwargs: Mapping[str, Any]) -> Any:
    """dlt's ``normalize`` for extracted packages left pending (with the task's loader file format)."""
    file_format = (run_kwargs or {}).get("loader_file_format")
    return pipeline.normalize(**({"loader_file_format": file_format} if file_format else {}))


def _clean_up(place: _Place, request: RunRequest, context: Mapping[str, Any] | None, pipeline: Any) -> None:
    """After a success: drop the loaded packages (never those with failed jobs) and what recorded them.

    Not once the pipeline's lease was lost (``place.check`` raises): the folder is the new holder's then.
    """
    from airflow_dlt_provider.runtime import ledger

    place.check()
    working_dir = place.working_dir
    if request.working_dir is not None:  # a folder the caller chose (tests, benchmarks), not under the base
        shutil.rmtree(working_dir, ignore_errors=True)
        return
    kept = _drop_loaded_packages(pipeline, working_dir, place.resume_place(request.pipeline_name))
    pending = kept or _has_load_packages(working_dir, request.pipeline_name)
    keep_state = not _state_restorable(pipeline)
    if keep_state and not place.shared:
        log.warning(
            "dlt pipeline %r: its destination cannot give dlt's state back (incremental cursors) and this "
            "task runs outside the pipeline's pool, in a folder of its own: the next run starts from the "
            "resources' initial values (run it in the pipeline's pool to keep the state between runs)",
            request.pipeline_name,
        )
        keep_state = False
    if pending or keep_state:
        # the next task needs this folder: pending packages, or dlt's state (incremental cursors) that the
        # destination cannot give back
        if place.store is not None:
            place.store.upload(request.pipeline_name, place.binding.key, working_dir)
            if not pending:
                place.store.clear_progress(request.pipeline_name, place.binding.key)
        if pending:
            return
    else:
        workdir.remove(working_dir)
        if place.store is not None:
            place.store.remove(request.pipeline_name, place.binding.key)
    if place.done_dir is not None:
        ledger.expire_done_records(place.done_dir)
        if place.store is not None:
            place.store.expire_done(request.pipeline_name, ledger.DONE_RECORD_DAYS)
    if context is not None and place.shared:  # private folders an older release kept for earlier runs
        workdir.clean_superseded(task_working_dir(context), request.pipeline_name)


def _state_restorable(pipeline: Any) -> bool:
    """Whether dlt restores the pipeline's state from the destination on a fresh folder: not from a
    ``@dlt.destination`` function (it keeps no state), nor with ``restore_from_destination=false``."""
    from airflow_dlt_provider.runtime import evidence

    if evidence.is_function_destination(pipeline):
        return False
    return bool(getattr(pipeline.config, "restore_from_destination", True))


def _drop_loaded_packages(pipeline: Any, working_dir: Path, rplace: Any) -> list[str]:
    """Delete completed packages without failed jobs; returns the load ids kept (with failed jobs).

    A completed package of another task (its attempt stopped after dlt's load) gets that task's done
    record first, so its retry reports it instead of extracting again.
    """
    from airflow_dlt_provider import _dlt_internals
    from airflow_dlt_provider.runtime import failed_jobs, ledger, resume

    records = ledger.read_ledger(working_dir)
    completed = list(pipeline.list_completed_load_packages())
    others = [
        load_id
        for load_id in completed
        if (ledger.owner_of(records, load_id) or rplace.owner) != rplace.owner
    ]
    resume.record_for_owners(pipeline, rplace, others, records)
    with_failed_jobs = failed_jobs.load_ids_with_failed_jobs(pipeline, completed)
    kept, dropped = [], []
    for load_id in completed:
        if load_id in with_failed_jobs:
            kept.append(load_id)
            continue
        _dlt_internals.delete_loaded_package(pipeline, load_id)
        dropped.append(load_id)
    ledger.forget(working_dir, dropped)
    if kept:
        log.warning(
            "kept load package(s) %s with failed jobs in %s: their rows are not in the destination and their "
            "tasks fail until the jobs are retried or the packages deleted",
            ", ".join(kept),
            working_dir,
        )
    return kept
