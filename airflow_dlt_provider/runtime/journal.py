"""While dlt loads: copy what it records about each package to the package store as it happens.

dlt records a load's progress in the package folder on the worker: the applied schema update (tables
created), a marker per job right after the destination committed it, job files moved to completed or
failed, and the package state (a function destination's delivered batches). A worker that dies takes
that record with it; the store's archive was copied before the load began. So each time dlt records
something (``_dlt_internals.package_writes_observed``), the package's progress -- the job files completed,
failed or in transition, and a function destination's delivered batches: some tens of bytes per job -- is
written to ``<store entry>/progress/<load id>.json`` (the applied schema update once, beside it, as
``<load id>.schema.json``) before dlt goes on (the job's worker thread waits
for it). A retry on another worker applies it to the archive (``_dlt_internals.apply_package_progress``):
what it replays is at most the job (SQL) or the batch (function destination) in flight.

A write to the store that fails is logged once per attempt and the load goes on: the store is then behind
by what failed, and a retry elsewhere falls back to the destination's evidence (``evidence.py``) or, for a
function destination, may deliver those batches again (named in the log).

A lost lease is different (``check``, the holder's ``Holding.check``, is called first each time dlt records
something): it raises, and the load stops. On dlt's main thread it propagates at once; on a load thread it
ends that job (a function destination delivers no further batch of it) and dlt's main thread, which then
finalises, fails or re-queues the job (each of those observed too), raises it before any job starts again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from airflow_dlt_provider import _compat, _dlt_internals
from airflow_dlt_provider.exceptions import PipelineBusyError

log = logging.getLogger(__name__)
# what a retry needs of dlt's package state beyond the archive's copy: a function destination's delivered
# batches (the rest -- load metrics, the pipeline state -- is in the archive or not needed to resume)
RESUMED_STATE_KEYS = ("destination_state",)


@contextlib.contextmanager
def journaled(
    pipeline: Any,
    store: Any,
    pipeline_name: str,
    binding_key: str,
    check: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Keep ``store``'s progress records of the packages ``pipeline`` loads in the block up to date; stop the
    load (``check`` raises) once the pipeline's lease is lost."""
    if store is None:
        yield
        return
    lock = threading.Lock()
    failed: list[str] = []
    schema_recorded: set[str] = set()
    written: dict[str, dict[str, Any]] = {}

    def sync(load_id: str) -> None:
        with lock:
            if check is not None:
                check()  # a lost lease stops the load (not caught below)
            try:
                try:
                    progress = _dlt_internals.package_progress(
                        pipeline, load_id, with_schema_update=load_id not in schema_recorded
                    )
                except FileNotFoundError:  # dlt moved the package on (loaded): nothing left to record
                    return
                if not progress:
                    return
                applied = progress.pop("applied_schema_update", None)
                if applied is not None:
                    store.put_schema_update(pipeline_name, binding_key, load_id, applied)
                    schema_recorded.add(load_id)
                record = _record(progress)
                if written.get(load_id) == record:  # e.g. dlt's job metrics, or a job moved after its marker
                    return
                # a failed job's message may carry a connection string
                store.put_progress(pipeline_name, binding_key, load_id, _compat.redact(record))
                written[load_id] = record
            except PipelineBusyError:
                raise
            except Exception as error:
                if not failed:
                    log.error(
                        "package store: could not record the progress of load package %s (%s): a retry on "
                        "another worker may load again what this attempt loads from now on (rows of a "
                        "function destination may then be delivered twice)",
                        load_id,
                        _compat.redact(f"{type(error).__name__}: {error}"),
                    )
                failed.append(load_id)

    with _dlt_internals.package_writes_observed(sync):
        yield


def _record(progress: dict[str, Any]) -> dict[str, Any]:
    """What a retry applies: committed and failed jobs (a job in transition counts as its target state, as
    ``apply_package_progress`` treats it) and the package state it resumes from; nothing else."""
    completed = set(progress.get("completed") or [])
    failed = dict(progress.get("failed") or {})
    for name, (state, message) in (progress.get("transitions") or {}).items():
        if state == "completed":
            completed.add(name)
        elif state == "failed":
            failed.setdefault(name, message)
    state = progress.get("package_state") or {}
    return {
        "completed": sorted(completed),
        "failed": failed,
        "transitions": {},
        "package_state": {key: state[key] for key in RESUMED_STATE_KEYS if key in state},
    }
