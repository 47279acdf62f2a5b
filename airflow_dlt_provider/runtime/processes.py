"""Let dlt start its own worker processes inside a task process.

dlt's normalize step runs a process pool when ``NORMALIZE__WORKERS`` is above 1 (parallel extraction and load
workers are threads, which need nothing here). Python refuses to start a process from one whose
``multiprocessing`` daemon flag is set: ``daemonic processes are not allowed to have children``. A task on a
Celery prefork worker inherits that flag: Celery's pool processes are daemonic, and Airflow starts the task
from one of them with a bare ``os.fork()`` (Airflow 3's task supervisor; Airflow 2's ``_execute_in_fork`` and
``StandardTaskRunner``), which copies the pool process's ``multiprocessing.current_process()`` object, flag
included.

The flag is stale in the task process: the process is no member of Celery's pool (billiard neither knows nor
terminates it; Airflow ends a task through its own process group, which the dlt workers join), and what the
flag guards -- a daemonic pool process being terminated at its parent's exit, orphaning its children -- does
not apply to it. So, for the run only, the flag is cleared through the public ``Process.daemon`` setter and
restored afterwards. dlt then behaves as it does anywhere: it picks its start method itself (``spawn`` inside
an Airflow task, where dlt detects the orchestrator; ``NORMALIZE__START_METHOD`` overrides it) and runs its
own pool. Nothing of dlt is replaced.

A process whose flag cannot be cleared falls back to one normalize worker for the run and says so in the task
log; the task never fails on it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Iterator

log = logging.getLogger("airflow_dlt_provider.runtime")

__all__ = ["worker_processes_allowed"]


@contextlib.contextmanager
def worker_processes_allowed(pipeline_name: str) -> Iterator[None]:
    """Within the block, dlt may start its worker processes, even in a daemonic (Celery prefork) task process.

    Outside a daemonic process this does nothing.
    """
    process = multiprocessing.current_process()
    if not process.daemon:
        yield
        return
    try:
        process.daemon = False
    except (AssertionError, AttributeError, ValueError) as error:  # the setter refuses a started process
        log.warning(
            "this task process is daemonic (%s) and its flag cannot be cleared (%s); dlt's normalize runs with "
            "one worker process for pipeline %r instead of NORMALIZE__WORKERS",
            type(process).__name__,
            error or type(error).__name__,
            pipeline_name,
        )
        with _one_normalize_worker(pipeline_name):
            yield
        return
    log.info(
        "this task process inherited the daemon flag of its worker's pool process (%s, e.g. a Celery prefork "
        "pool); it is cleared while dlt runs, so that dlt may start its normalize worker processes",
        type(process).__name__,
    )
    try:
        yield
    finally:
        with contextlib.suppress(AssertionError, AttributeError, ValueError):
            process.daemon = True


@contextlib.contextmanager
def _one_normalize_worker(pipeline_name: str) -> Iterator[None]:
    """dlt's normalize configured to one worker (no process pool) for the block, whatever the configuration says.

    Environment variables are dlt's first config provider; the pipeline-scoped key wins over the global one
    (``<PIPELINE>__NORMALIZE__WORKERS`` over ``NORMALIZE__WORKERS``; dlt's environ provider upper-cases the
    name), so both are set.
    """
    keys = ["NORMALIZE__WORKERS", f"{pipeline_name.upper()}__NORMALIZE__WORKERS"]
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(dict.fromkeys(keys, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
