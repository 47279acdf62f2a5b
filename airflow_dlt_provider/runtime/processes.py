"""Let dlt start its own worker processes inside a task process.

dlt's normalize step runs a process pool when ``NORMALIZE__WORKERS`` is above 1 (parallel extraction and load
workers are threads, which need nothing here). A task on a Celery prefork worker cannot start it as it comes:
Airflow starts the task from one of Celery's pool processes with a bare ``os.fork()`` (Airflow 3's task
supervisor; Airflow 2's ``_execute_in_fork`` and ``StandardTaskRunner``), and the task process inherits that
pool process's ``multiprocessing.current_process()``, a billiard process object that is

- daemonic: Python refuses to start a child (``daemonic processes are not allowed to have children``), and
- billiard's, authkey included: with ``spawn`` (dlt's start method inside Airflow) Python refuses to pickle it
  for the child (``Pickling an AuthenticationString object is disallowed for security reasons``).

That identity is stale in the task process: it is no member of Celery's pool (billiard neither knows nor
terminates it; Airflow ends a task through its own process group, which dlt's workers join), so what the
daemon flag guards -- a pool process terminated at its parent's exit, orphaning its children -- does not
apply. For the run only, ``multiprocessing`` is given a main-process identity of the task process's own
(:func:`main_process_identity`: not daemonic, the same name and authkey), and the inherited one is put back
afterwards. dlt then does what it does anywhere: it picks its start method (``spawn`` inside an Airflow task,
where it detects the orchestrator; ``NORMALIZE__START_METHOD`` overrides it) and runs its own pool. Nothing of
dlt is replaced. Where the identity is already a plain, non-daemonic one (LocalExecutor, ``airflow dags
test``, Kubernetes pods) nothing is done.

A process where this does not work falls back to one normalize worker for the run and says so in the task log;
the task never fails on it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.process
import os
from collections.abc import Iterator

log = logging.getLogger(__name__)

__all__ = ["main_process_identity", "worker_processes_allowed"]


@contextlib.contextmanager
def worker_processes_allowed(pipeline_name: str) -> Iterator[None]:
    """Within the block, dlt may start its worker processes, also in a task forked from a Celery pool process."""
    inherited = multiprocessing.current_process()
    foreign = not isinstance(inherited, multiprocessing.process.BaseProcess)  # billiard's (Celery)
    if not (foreign or inherited.daemon):
        yield
        return
    described = (
        f"{type(inherited).__module__}.{type(inherited).__name__}"
        f"{', daemonic' if getattr(inherited, 'daemon', False) else ''}"
    )
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(main_process_identity())
        except Exception as error:  # a Python whose multiprocessing changed: run, with one worker
            log.warning(
                "this task process carries the multiprocessing identity of its worker's pool process (%s) and "
                "it cannot be replaced (%s: %s); dlt's normalize runs with one worker for pipeline %r, "
                "whatever NORMALIZE__WORKERS says",
                described,
                type(error).__name__,
                error,
                pipeline_name,
            )
            stack.enter_context(_one_normalize_worker(pipeline_name))
        else:
            log.info(
                "this task process carries the multiprocessing identity of its worker's pool process (%s, e.g. "
                "a Celery prefork pool); while dlt runs it has a main-process identity of its own, so that dlt "
                "may start its normalize worker processes",
                described,
            )
        yield


@contextlib.contextmanager
def main_process_identity() -> Iterator[multiprocessing.Process]:
    """Within the block, ``multiprocessing`` sees the current process as a main process of its own.

    A task process forked with a bare ``os.fork()`` from a Celery prefork pool process (Airflow 3's supervisor,
    Airflow 2's ``_execute_in_fork``) inherits that pool process's ``multiprocessing.current_process()``: a
    billiard process object, daemonic (Python then refuses to start any child process: ``daemonic processes
    are not allowed to have children``), whose authkey Python refuses to pickle for a ``spawn`` child
    (``Pickling an AuthenticationString object is disallowed``). No public API sets the current process:
    ``multiprocessing.process._current_process`` is replaced by a ``multiprocessing.Process`` that is never
    started (not daemonic, the same name, the same authkey as a standard-library one) and put back afterwards.
    Yields the identity in force in the block.
    """
    current = "_current_process"  # typeshed does not declare it
    inherited = getattr(multiprocessing.process, current)
    identity = multiprocessing.Process(name=inherited.name)  # copies the inherited config (daemon, authkey)
    identity.daemon = False
    identity.authkey = bytes(inherited.authkey)
    setattr(multiprocessing.process, current, identity)
    try:
        yield identity
    finally:
        setattr(multiprocessing.process, current, inherited)


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
