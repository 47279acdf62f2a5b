"""Run-time discovery for ``decompose="mapped"``: call the factory, find the components, name them.

The discover task of a mapped group runs this inside the task: the factory gets the rendered
``source_kwargs`` and the credentials of ``source_conn_ids`` (a ``sql_database`` reflects the database
here, not at parse time), and the components are found exactly as the parse-time plan finds them
(``plan.components_from_source``). Its return value is the list the mapped load task expands over.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_dlt_provider.authoring.decompose.mapped import name_mapped_components
from airflow_dlt_provider.authoring.plan import components_from_source
from airflow_dlt_provider.authoring.sources import SourceSpec, check_resource_names, instantiate_source
from airflow_dlt_provider.exceptions import ConcurrentDagRunError

log = logging.getLogger(__name__)

__all__ = ["blocking_runs", "check_no_concurrent_run", "concurrent_run_error", "discover_components"]


def discover_components(
    spec: SourceSpec,
    *,
    pipeline_name: str,
    source_kwargs: Mapping[str, Any] | None = None,
    source_conn_ids: Mapping[str, str] | None = None,
    resources: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The components of the source as JSON (``MappedComponent.as_xcom``), one per map index.

    ``resources`` restricts discovery to those names (unknown names fail, listing the available ones).
    """
    from airflow_dlt_provider.runtime.dlt_config import airflow_variable_lookups
    from airflow_dlt_provider.runtime.pipeline_run import dlt_logs_to_task_log, source_credentials

    with airflow_variable_lookups(secrets_toml=True, pipeline_name=pipeline_name), dlt_logs_to_task_log():
        kwargs = {**dict(source_kwargs or {}), **source_credentials(source_conn_ids or {})}
        source = instantiate_source(spec, kwargs)
        names = list(resources) if resources is not None else None
        if names is not None:
            check_resource_names(names, source.resources, source.name)
        components = name_mapped_components(components_from_source(source, names), pipeline_name)
    log.info(
        "source %r: %d component(s) to load, one map index each: %s",
        source.name,
        len(components),
        ", ".join(component.name for component in components) or "(none)",
    )
    return [component.as_xcom() for component in components]


# ---------------------------------------------------------------- one DAG run at a time (backfills included)


def _started_first(other_start: Any, other_run_id: str, own_start: Any, own_run_id: str) -> bool:
    """Whether the other run started before this one: by start date, then run id. When either start date is
    unknown (Airflow 3.1's supervisor gives none), by run id alone: both runs then decide the same way."""
    if isinstance(other_start, datetime) and isinstance(own_start, datetime):
        return (_aware(other_start), other_run_id) < (_aware(own_start), own_run_id)
    return other_run_id < own_run_id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def blocking_runs(
    *,
    own_run_id: str,
    own_start_date: Any,
    discover_task_id: str,
    others: Sequence[Mapping[str, Any]],
) -> list[Mapping[str, Any]]:
    """Which of the other running DAG runs (``dag_runs.other_running_dag_runs``) this run's discover must yield to.

    A run whose discover task succeeded is loading components: it blocks. A run still before or in its discovery
    blocks if it started first (start date, then run id; run id alone when a start date is unknown); one that
    started later does not, because its own discover yields to this run. So of two runs that discover at
    once, exactly one goes on, and a run that is loading is never joined. Queued runs are not considered: none
    of their tasks runs, and with the DAG's ``max_active_runs=1`` a queued run waits for this one, so yielding
    to it would stall both.
    """
    blocking = []
    for other in others:
        states = other.get("states") or {}
        if states.get(discover_task_id) == "success" or _started_first(
            other.get("start_date"), str(other["run_id"]), own_start_date, own_run_id
        ):
            blocking.append(other)
    return blocking


def concurrent_run_error(
    *, dag_id: str, pipeline_name: str, discover_task_id: str, blocking: Sequence[Mapping[str, Any]]
) -> ConcurrentDagRunError:
    """The retryable error naming the run(s) this discover task yields to, and the backfill command that works."""
    described = []
    for other in blocking[:3]:
        states = other.get("states") or {}
        started = other.get("start_date")
        when = started.isoformat(timespec="seconds") if isinstance(started, datetime) else "not yet"
        busy = sorted(key for key, state in states.items() if key != discover_task_id and state == "running")
        doing = (
            f"loading {len(busy)} component(s) now"
            if busy
            else f"its discover task {states.get(discover_task_id) or 'not started'}"
        )
        described.append(f"{other['run_id']!r} ({other.get('run_type') or 'run'}, started {when}, {doing})")
    more = f" and {len(blocking) - 3} more" if len(blocking) > 3 else ""
    return ConcurrentDagRunError(
        f"DAG {dag_id!r} has another running DAG run, {', '.join(described)}{more}, whose decompose='mapped' "
        f"group loads the same components (pipelines {pipeline_name}__<component>) as this one; two runs must "
        "not load one component at once. This discover task fails and is retried; it goes on once that run is "
        "done. Backfills run beside the schedule with their own max_active_runs (default 10): backfill a "
        f"mapped DAG one run at a time, `airflow backfill create --dag-id {dag_id} --from-date ... --to-date "
        "... --max-active-runs 1`, and give the discover task retries (retries, retry_delay) to wait out a "
        "scheduled run"
    )


def check_no_concurrent_run(
    context: Any, *, pipeline_name: str, discover_task_id: str, task_ids: Sequence[str]
) -> None:
    """Raise :func:`concurrent_run_error` when another running DAG run of this DAG blocks this discover task."""
    from airflow_dlt_provider.runtime.dag_runs import other_running_dag_runs

    others = other_running_dag_runs(context, list(task_ids))
    if not others:
        return
    ti = context["ti"]
    dag_run = context.get("dag_run")
    blocking = blocking_runs(
        own_run_id=ti.run_id,
        own_start_date=getattr(dag_run, "start_date", None),
        discover_task_id=discover_task_id,
        others=others,
    )
    if blocking:
        raise concurrent_run_error(
            dag_id=ti.dag_id,
            pipeline_name=pipeline_name,
            discover_task_id=discover_task_id,
            blocking=blocking,
        )
    log.info(
        "%d other running DAG run(s) of this DAG started after this one (%s); they wait for this run",
        len(others),
        ", ".join(str(other["run_id"]) for other in others),
    )
