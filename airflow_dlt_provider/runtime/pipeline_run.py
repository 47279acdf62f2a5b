"""What happens inside one task: working dir, destination, dlt logging, the dlt run and its summary.

Nothing here runs at DAG parse time.
"""

from __future__ import annotations

import contextlib
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
from airflow_dlt_provider.authoring.arguments import schema_change_mode
from airflow_dlt_provider.authoring.sources import SourceSpec, instantiate_source, select_resources
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.pools.names import pool_name_for
from airflow_dlt_provider.runtime import workdir
from airflow_dlt_provider.runtime.dlt_config import airflow_variable_lookups
from airflow_dlt_provider.runtime.summary import build_summary, table_columns
from airflow_dlt_provider.runtime.workdir import default_duckdb_path, task_working_dir

log = logging.getLogger("airflow_dlt_provider.runtime")

DEFAULT_PROGRESS_PERIOD_SECONDS = 30.0


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
) -> Any:
    """dlt progress collector writing a line per ``period_seconds`` to the task log.

    With ``rows_dir``, it also records the rows of every package when a normalize step ends
    (``resume.ROWS_FILE``), before the load starts, and with ``owner`` the task each package was extracted
    for when an extract step ends (``resume.OWNERS_FILE``). ``checkpoint`` is called when a normalize step
    ended, before the load.
    """
    collector = _sampling_log_collector_type()(
        log_period=period_seconds,
        logger=logging.getLogger("airflow_dlt_provider.progress"),
        log_level=logging.INFO,
        dump_system_stats=False,
    )
    collector.rows_dir = rows_dir
    collector.owner = owner
    collector.checkpoint = checkpoint
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

        def on_end_trace_step(
            self, trace: Any, step: Any, pipeline: Any, step_info: Any, send_state: bool
        ) -> None:
            super().on_end_trace_step(trace, step, pipeline, step_info, send_state)
            if self.rows_dir is not None:
                resume.record_after_step(self.rows_dir, step, step_info, self.owner)
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


@dataclass(frozen=True)
class _Place:
    """Where one task runs dlt: its folder, whose packages it holds and where they wait between tasks."""

    working_dir: Path
    owner: str | None = None  # the task key when the folder is the pipeline's (shared under the pool)
    store: Any = None  # a package_store.PackageStore, only for the pipeline's folder


def run(request: RunRequest, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run one pipeline for one task and return the JSON summary (see DESIGN.md).

    The working dir is wiped after success and kept after a failure: the retry (or, in the pipeline's own
    pool, the next task of the pipeline) resumes from it (see resume.py); terminal errors fail without using
    retries (see failures.py).
    """
    from airflow_dlt_provider.runtime import failures, processes

    place = _place_for(request, context)
    # every dlt call of the task, including the summary and the failure report, resolves its config in here
    # the store's upload comes after the failure report (it names the local folder), which keeps it private
    with (
        _kept_in_store(place, request.pipeline_name),
        airflow_variable_lookups(secrets_toml=True, pipeline_name=request.pipeline_name),
        failures.classified(place.working_dir, request.pipeline_name, shared=place.owner is not None),
        processes.worker_processes_allowed(request.pipeline_name),  # dlt's workers in a daemonic task process
    ):
        return _run_in(place, request, context)


def _place_for(request: RunRequest, context: Mapping[str, Any] | None) -> _Place:
    from airflow_dlt_provider.runtime.package_store import configured_store

    if request.working_dir is not None:  # a folder the caller chose (tests, benchmarks)
        request.working_dir.mkdir(parents=True, exist_ok=True)
        return _Place(request.working_dir)
    if context is None:
        raise ValueError("either request.working_dir or a task context is required")
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
        return _Place(working_dir)
    try:
        store = configured_store()
    except InvalidArgumentError as error:  # every retry would hit it again
        raise _compat.airflow_fail_exception()(str(error)) from error
    working_dir = workdir.pipeline_working_dir(request.pipeline_name)
    workdir.prepare(working_dir)
    return _Place(working_dir, owner=workdir.task_key(context), store=store)


@contextlib.contextmanager
def _kept_in_store(place: _Place, pipeline_name: str) -> Iterator[None]:
    """Download the pipeline folder before the attempt; upload it after a failure (see package_store.py)."""
    if place.store is None:
        yield
        return
    _restore_from_store(place, pipeline_name)
    try:
        yield
    except BaseException:
        _keep_in_store(place, pipeline_name)
        raise


def _restore_from_store(place: _Place, pipeline_name: str) -> None:
    local = place.working_dir
    if any(local.iterdir()) and place.store.has_copy(pipeline_name):
        aside = local.with_name(f"{local.name}~{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
        local.rename(aside)
        log.warning(
            "the local pipeline folder held files that never reached the package store (an upload had "
            "failed); the store's copy is used and they are kept in %s",
            aside,
        )
    place.store.download(pipeline_name, local)


def _checkpoint(place: _Place, pipeline_name: str) -> Callable[[], None] | None:
    """Copy the normalized packages to the store before the load starts (``None`` without a store).

    A worker killed during the load (SIGKILL, an evicted pod) uploads nothing afterwards; this copy is what
    the next task of the pipeline, on any worker, then finishes.
    """
    store = place.store
    if store is None:
        return None

    def checkpoint() -> None:
        workdir.make_owner_only(place.working_dir)
        try:
            store.upload(pipeline_name, place.working_dir)
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
    try:
        place.store.upload(pipeline_name, place.working_dir)
    except Exception as error:  # never hide the real failure behind the store's
        log.error(
            "could not keep the pipeline folder in the package store (%s: %s): it stays on this worker in %s, "
            "where only a task on this worker finds it",
            type(error).__name__,
            _compat.redact(str(error)),
            place.working_dir,
        )
        return
    workdir.remove(place.working_dir)  # the store holds the only copy: no stale one left on this worker


def _run_in(place: _Place, request: RunRequest, context: Mapping[str, Any] | None) -> dict[str, Any]:
    import dlt

    working_dir = place.working_dir

    from airflow_dlt_provider.runtime import alerts, intervals, reporting, resume, schema_guard

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
            ),
            **dataset,
        )
        baseline = schema_guard.sync_and_read_baseline(pipeline, source)  # decides this task's first run
        log.info(
            "dlt pipeline %r: loading resources %s of source %r into %s dataset %r",
            pipeline.pipeline_name,
            ", ".join(source.selected_resources.keys()),
            source.name,
            pipeline.destination.destination_name,
            pipeline.dataset_name,
        )
        step_started = time.monotonic()
        with intervals.data_interval_for_dlt(context, source):
            outcome = resume.resume_or_run(
                pipeline,
                working_dir,
                lambda: schema_guard.run_pipeline(
                    pipeline,
                    source,
                    request.run_kwargs,
                    on_schema_change=schema_change_mode(request.on_schema_change),
                    baseline=baseline,
                ),
                owner=place.owner,
                finish_pending=lambda: _finish_pending(pipeline, request.run_kwargs),
            )
        load_info = outcome.load_info
        elapsed = time.monotonic() - step_started
    finished_at = datetime.now(timezone.utc)
    summary = build_summary(pipeline, load_info, started_at, finished_at, baseline.first_run)
    if outcome.resumed:  # dlt's trace of this attempt lacks the normalize step of the earlier one
        summary["rows"] = outcome.rows
        summary["columns"] = table_columns(pipeline, outcome.rows)
    log.info("dlt pipeline %r finished in %.1f s", pipeline.pipeline_name, elapsed)
    expected = schema_guard.expected_new_tables(baseline, pipeline, summary["schema_changes"]["new_tables"])
    mode = schema_change_mode(request.on_schema_change)
    reporting.log_run(pipeline, load_info, summary, mode, expected)
    changes, _ = reporting.split_schema_changes(summary["schema_changes"], expected)
    summary["row_expectations"] = _row_expectations(request, pipeline, source, summary["rows"])
    alerts.log_row_expectations(request.pipeline_name, summary["row_expectations"])
    if request.details is not None:
        request.details.fill(pipeline, summary["rows"])
    loaded = list(pipeline.list_completed_load_packages())
    if pipeline.is_active:  # a later run in this process (dag.test, a test session) must not inherit it
        pipeline.deactivate()
    _clean_up(place, request, context, loaded)
    handlers = alerts.handlers_for(
        request.on_schema_change, changes, request.expect_rows, summary["row_expectations"]
    )
    alerts.send_alerts(handlers, summary, changes, context)
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


def _finish_pending(pipeline: Any, run_kwargs: Mapping[str, Any]) -> Any:
    """dlt's ``Pipeline.run()`` without data: normalizes and loads the pending packages, extracts nothing."""
    file_format = (run_kwargs or {}).get("loader_file_format")
    return pipeline.run(**({"loader_file_format": file_format} if file_format else {}))


def _clean_up(
    place: _Place, request: RunRequest, context: Mapping[str, Any] | None, loaded: list[str]
) -> None:
    working_dir = place.working_dir
    if request.working_dir is not None:  # a folder the caller chose (tests, benchmarks), not under the base
        shutil.rmtree(working_dir, ignore_errors=True)
        return
    if place.owner is None:
        workdir.remove(working_dir)
        return
    _settle_pipeline_folder(place, request.pipeline_name, loaded)
    if context is not None:  # private folders an older release kept for earlier runs of this task
        workdir.clean_superseded(task_working_dir(context), request.pipeline_name)


def _settle_pipeline_folder(place: _Place, pipeline_name: str, loaded: list[str]) -> None:
    """After a success: drop the loaded packages; keep only what other tasks have yet to report."""
    from airflow_dlt_provider.runtime import resume

    assert place.owner is not None
    kept = resume.settle_ledgers(place.working_dir, place.owner, loaded)
    shutil.rmtree(place.working_dir / pipeline_name, ignore_errors=True)
    if not kept:
        workdir.remove(place.working_dir)
        if place.store is not None:
            place.store.remove(pipeline_name)
        return
    owners = sorted({str(entry.get("owner")) for entry in kept.values()})
    log.warning(
        "loaded load package(s) %s on behalf of %s, which did not report them: kept on record, so that "
        "task reports them when it runs again instead of extracting again",
        ", ".join(sorted(kept)),
        ", ".join(owners),
    )
    if place.store is not None:
        place.store.upload(pipeline_name, place.working_dir)
        workdir.remove(place.working_dir)
