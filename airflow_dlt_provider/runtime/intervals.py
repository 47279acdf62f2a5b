"""The task's data interval, handed to dlt's incremental loading.

Inside a task, :func:`data_interval_for_dlt` injects the task instance's ``[data_interval_start,
data_interval_end)`` into dlt as its external-scheduler interval (``_dlt_internals.time_interval_context``). Every
``dlt.sources.incremental(..., allow_external_schedulers=True)`` then loads exactly that window: its
``initial_value``/``end_value`` become the interval bounds, and dlt neither reads nor writes the
incremental's ``last_value`` state. Catch-up and backfill runs therefore load each window once, in any
order, and re-running a window reloads just that window.

What a run without a usable interval loads
------------------------------------------
A run has no usable interval when Airflow gives it none (``data_interval_start``/``end`` missing, e.g. an
Airflow 3 run triggered without a logical date) or a zero-length one (``start == end``). Airflow 3 gives
zero-length intervals to manual runs of DAGs whose timetable has no interval (``schedule=None``,
``CronTriggerTimetable``), and to *every* run of a cron or ``@daily`` schedule unless
``[scheduler] create_cron_data_intervals = True`` or the DAG uses ``CronDataIntervalTimetable`` or
``CronTriggerTimetable(..., interval=timedelta(days=1))``. Manual runs of a DAG whose timetable has
intervals (``CronDataIntervalTimetable``; Airflow 2's default for cron strings) get the last complete
interval before the trigger time, which is loaded like any other window.

Without a usable interval the incrementals of the task do not join the scheduler: they run as plain dlt
would, from their own state -- ``last_value`` of the previous stateful run, else ``initial_value``. (Windowed
runs do not advance that state, so a manual run after windowed runs starts from ``initial_value``.) The task
log says which of the two happened.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from airflow_dlt_provider import _dlt_internals

log = logging.getLogger(__name__)


def _data_interval(context: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(data_interval_start, data_interval_end)`` of a task context; ``None``s for manual runs without one."""
    return context.get("data_interval_start"), context.get("data_interval_end")


def usable_interval(context: Mapping[str, Any] | None) -> tuple[datetime, datetime] | None:
    """``(start, end)`` of the task's data interval, or ``None`` when it is missing or has zero length."""
    if context is None:
        return None
    start, end = _data_interval(context)
    if start is None or end is None or start >= end:
        return None
    return start, end


def _asks_to_join(resource: Any) -> bool:
    """Whether the resource's incremental has ``allow_external_schedulers=True``.

    Before the resource function runs, an incremental given as the default of its argument is only known
    from the function's signature.
    """
    incremental = resource.incremental
    if incremental is None:
        return False
    if incremental.allow_external_schedulers:
        return True
    default = _dlt_internals.incremental_function_default(resource)
    return bool(getattr(default, "allow_external_schedulers", False))


def _joining_resources(source: Any) -> list[str]:
    """Names of the selected resources whose incremental asked to join an external scheduler."""
    return [name for name, r in getattr(source, "selected_resources", {}).items() if _asks_to_join(r)]


@contextlib.contextmanager
def _own_state_only(source: Any) -> Iterator[None]:
    """Make every incremental of ``source`` ignore external schedulers for the duration of the block.

    ``resource.incremental`` is dlt's wrapper of the resource's incremental (its own flag overrides the
    flag of every incremental it binds later) or a plain ``dlt.sources.incremental``. The public setter of
    ``allow_external_schedulers`` switches both off; the wrapper's own value is put back afterwards.
    """
    from dlt.sources import incremental as Incremental

    restores: list[Callable[[], None]] = []
    for resource in getattr(source, "selected_resources", {}).values():
        incremental = resource.incremental
        if incremental is None:
            continue
        if not isinstance(incremental, Incremental):  # the wrapper
            restores.append(_restorer_of_wrapper(incremental))
            incremental = incremental.incremental
        if incremental is not None:
            restores.append(functools.partial(_set_flag, incremental, incremental.allow_external_schedulers))
        resource.incremental.allow_external_schedulers = False
    try:
        yield
    finally:
        for restore in restores:
            restore()


def _set_flag(incremental: Any, value: Any) -> None:
    incremental.allow_external_schedulers = value


def _restorer_of_wrapper(wrapper: Any) -> Callable[[], None]:
    value = _dlt_internals.wrapper_own_external_schedulers(wrapper)
    return functools.partial(_dlt_internals.set_wrapper_own_external_schedulers, wrapper, value)


@contextlib.contextmanager
def data_interval_for_dlt(
    context: Mapping[str, Any] | None, source: Any
) -> Iterator[tuple[datetime, datetime] | None]:
    """Inject the task's data interval into dlt while the block runs; yields the interval (or ``None``).

    With a usable interval, dlt's ``TimeIntervalContext`` holds it explicitly (no auto-detection), so
    incrementals with ``allow_external_schedulers=True`` load exactly ``[start, end)``. Without one, those
    incrementals fall back to their own state (see the module docstring). The previous dlt context is
    restored afterwards, also when the run fails or the task is interrupted.
    """
    interval = usable_interval(context)
    joining = _joining_resources(source)
    if interval is not None:
        if joining:
            log.info(
                "data interval [%s, %s): incremental resource(s) %s load exactly this window",
                interval[0].isoformat(),
                interval[1].isoformat(),
                ", ".join(joining),
            )
        with _dlt_internals.time_interval_context(interval):
            yield interval
        return

    if joining:
        start, end = _data_interval(context) if context is not None else (None, None)
        reason = (
            "no data interval" if start is None or end is None else f"a zero-length data interval ({start})"
        )
        log.warning(
            "this run has %s: incremental resource(s) %s load from their own state (last loaded value, "
            "else initial_value) instead of a scheduler window. For daily windows on Airflow 3 use "
            "schedule=CronDataIntervalTimetable(...) or [scheduler] create_cron_data_intervals = True",
            reason,
            ", ".join(joining),
        )
    with (
        _own_state_only(source),
        _dlt_internals.time_interval_context(None, allow_external_schedulers=False),
    ):
        yield None
