"""What happens inside one task: working dir, destination, dlt logging, the dlt run and its summary.

Nothing here runs at DAG parse time.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_dlt_provider.authoring.sources import SourceSpec, instantiate_source, select_resources
from airflow_dlt_provider.runtime import workdir
from airflow_dlt_provider.runtime.dlt_config import airflow_variable_lookups
from airflow_dlt_provider.runtime.summary import build_summary
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
    on_schema_change: str = "warn"  # see checks.py
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


def progress_collector(period_seconds: float, rows_dir: Path | None = None) -> Any:
    """dlt progress collector writing a line per ``period_seconds`` to the task log.

    With ``rows_dir``, it also records the rows of every package when a normalize step ends
    (``resume.ROWS_FILE``), before the load starts.
    """
    collector = _sampling_log_collector_type()(
        log_period=period_seconds,
        logger=logging.getLogger("airflow_dlt_provider.progress"),
        log_level=logging.INFO,
        dump_system_stats=False,
    )
    collector.rows_dir = rows_dir
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

        def on_end_trace_step(
            self, trace: Any, step: Any, pipeline: Any, step_info: Any, send_state: bool
        ) -> None:
            super().on_end_trace_step(trace, step, pipeline, step_info, send_state)
            if self.rows_dir is not None:
                resume.record_rows_after_normalize(self.rows_dir, step, step_info)

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


def run(request: RunRequest, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run one pipeline for one task and return the JSON summary (see DESIGN.md).

    The working dir is wiped after success and kept after a failure: the retry resumes from it (see
    resume.py); terminal errors fail without using retries (see failures.py).
    """
    from airflow_dlt_provider.runtime import failures

    working_dir = request.working_dir
    if working_dir is None:
        if context is None:
            raise ValueError("either request.working_dir or a task context is required")
        working_dir = task_working_dir(context)
        workdir.prepare(working_dir)
    else:
        working_dir.mkdir(parents=True, exist_ok=True)
    # every dlt call of the task, including the summary and the failure report, resolves its config in here
    with (
        airflow_variable_lookups(secrets_toml=True, pipeline_name=request.pipeline_name),
        failures.classified(working_dir, request.pipeline_name),
    ):
        return _run_in(working_dir, request, context)


def _run_in(working_dir: Path, request: RunRequest, context: Mapping[str, Any] | None) -> dict[str, Any]:
    import dlt

    from airflow_dlt_provider.runtime import intervals, reporting, resume, schema_guard

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
            progress=progress_collector(request.progress_period_seconds, rows_dir=working_dir),
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
                    on_schema_change=request.on_schema_change,
                    baseline=baseline,
                ),
            )
        load_info = outcome.load_info
        elapsed = time.monotonic() - step_started
    finished_at = datetime.now(timezone.utc)
    summary = build_summary(pipeline, load_info, started_at, finished_at, baseline.first_run)
    if outcome.resumed:  # dlt's trace of this attempt lacks the normalize step of the earlier one
        summary["rows"] = outcome.rows
    log.info("dlt pipeline %r finished in %.1f s", pipeline.pipeline_name, elapsed)
    expected = schema_guard.expected_new_tables(baseline, pipeline, summary["schema_changes"]["new_tables"])
    reporting.log_run(pipeline, load_info, summary, request.on_schema_change, expected)
    if request.details is not None:
        request.details.fill(pipeline, summary["rows"])
    if pipeline.is_active:  # a later run in this process (dag.test, a test session) must not inherit it
        pipeline.deactivate()
    _clean_up(working_dir, request, context)
    return summary


def _clean_up(working_dir: Path, request: RunRequest, context: Mapping[str, Any] | None) -> None:
    if request.working_dir is not None:  # a folder the caller chose (tests, benchmarks), not under the base
        shutil.rmtree(working_dir, ignore_errors=True)
        return
    workdir.remove(working_dir)
    if request.holds_pipeline_pool:
        workdir.clean_superseded(working_dir, request.pipeline_name)
