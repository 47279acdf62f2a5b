"""Run dlt with room of its own on CPython's frame stack, however deep the task's stack already is.

Since Python 3.11, CPython keeps the frames of Python functions on a per-thread data stack made of chunks
(16 KiB each, one ``mmap``). A call that does not fit into what is left of the current chunk gets a new
chunk, and the chunk is unmapped again as soon as that call returns. A loop whose calls go back and forth
across the end of a chunk therefore maps, faults in and unmaps a fresh chunk on every crossing
(python/cpython#142183; fixed upstream in 2026 by keeping one spare chunk, backported to 3.13; not in 3.11 or
3.12, nor in earlier 3.13 releases).

Where that boundary falls in dlt's loops depends only on how deep the stack is when dlt is called. A task on
a Celery worker calls the operator some 60 frames deep (Celery, billiard, Airflow's supervisor and task
runner), and there dlt's extraction loop crossed a chunk boundary for every item: 150,000 ``mmap`` and
``munmap`` calls and as many page faults in 2 s of a 10^5-row extraction, every Python call 10-20x slower in
wall time, the load at a third of plain dlt's speed (docs/benchmarks.md). The same code run from a shell, or
from a LocalExecutor task, is called at another depth and did not cross. Plain dlt in a bare
``PythonOperator`` on the same worker crossed in its normalize step instead: the depth decides, not the code.

:func:`call_with_headroom` takes the luck out: it calls its function from a frame that does not fit into any
16 KiB chunk, so CPython gives that frame a chunk of its own (256 KiB; only the pages used are ever touched),
and the frames of everything called from it (dlt's whole run) fit into the ~128 KiB that frame leaves free
-- some thousand frames deep -- at the same place whatever the caller's depth. The frame is made large by
its code object's declared evaluation-stack size (``co_stacksize``), which CPython reserves but this code
never uses; nothing else about the call changes (same thread, same context, same exceptions). Where there is
no such data stack (Python 3.10, other interpreters) the function is called directly.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["HEADROOM_SLOTS", "call_with_headroom", "has_headroom"]

T = TypeVar("T")

HEADROOM_SLOTS = 16 * 1024
"""Pointer-sized slots the calling frame reserves: 128 KiB on 64-bit, more than a 16 KiB chunk holds, so the
frame starts a chunk of its own (the smallest power of two above the frame plus CPython's 1,000-slot margin:
256 KiB), which leaves as much again free for the frames called from it."""

_state = threading.local()


def _call(function: Any, args: Any, kwargs: Any) -> Any:
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        return function(*args, **kwargs)
    finally:
        _state.depth -= 1


def _with_large_frame(function: Any) -> Any:
    """``function`` with a code object whose frame reserves :data:`HEADROOM_SLOTS` more slots, or ``None`` where
    frames do not live on a chunked data stack (before CPython 3.11) or the code object cannot be changed."""
    if sys.implementation.name != "cpython" or sys.version_info < (3, 11):
        return None
    code = function.__code__
    try:
        large = code.replace(co_stacksize=code.co_stacksize + HEADROOM_SLOTS)
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - an interpreter without code.replace
        return None
    return types.FunctionType(large, function.__globals__, function.__name__)


_call_in_own_chunk = _with_large_frame(_call)


def call_with_headroom(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``, its frames (and those of all it calls) at the start of a data-stack chunk
    of their own, with room for about a thousand frames (see the module docs). Nested calls run directly."""
    if _call_in_own_chunk is None or has_headroom():
        return function(*args, **kwargs)
    result: T = _call_in_own_chunk(function, args, kwargs)
    return result


def has_headroom() -> bool:
    """Whether the current thread runs inside :func:`call_with_headroom`."""
    return bool(getattr(_state, "depth", 0))
