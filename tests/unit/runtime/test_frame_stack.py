"""dlt's loops must not thrash CPython's frame stack, whatever depth the task is called from (frame_stack.py).

CPython 3.11+ maps a 16 KiB chunk for the frames that do not fit into the current one and unmaps it when the
call returns: a loop that goes back and forth across a chunk's end maps, faults in and unmaps a chunk on every
crossing. A task on a Celery worker called dlt at a depth where its extraction loop did that for every item
(a third of plain dlt's speed). The cause is counted, not timed: the page faults of the thread while a small
loop swings across every possible chunk boundary.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

import pytest

from airflow_dlt_provider.runtime import frame_stack

pytestmark = pytest.mark.skipif(
    sys.implementation.name != "cpython"
    or sys.version_info < (3, 11)
    or not hasattr(resource, "RUSAGE_THREAD"),
    reason="a chunked frame stack (CPython 3.11+) and per-thread fault counts (Linux)",
)

SWING = 4  # frames the loop goes down and up again on every iteration
ITERATIONS = 500
BASE_DEPTHS = range(0, 200)  # more frames than a 16 KiB chunk holds: some base puts the swing across its end


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def _down(levels: int) -> None:
    if levels:
        _down(levels - 1)


def _swing() -> int:
    """The loop: ``ITERATIONS`` calls ``SWING`` frames deep; returns the thread's page faults meanwhile."""
    before = _faults()
    for _ in range(ITERATIONS):
        _down(SWING)
    return _faults() - before


def _at_depth(depth: int, body: Any) -> Any:
    return body() if depth == 0 else _at_depth(depth - 1, body)


def _worst(call: Any) -> tuple[int, int]:
    """The most page faults of the loop over all base depths, and the depth where it was."""
    faults = {depth: _at_depth(depth, lambda: call(_swing)) for depth in BASE_DEPTHS}
    depth = max(faults, key=faults.__getitem__)
    return faults[depth], depth


def test_a_loop_at_a_chunk_boundary_thrashes_without_headroom():
    """The control: called directly, the loop meets a chunk's end at some base depth and faults on every turn."""
    worst, depth = _worst(lambda body: body())
    if worst < ITERATIONS:
        pytest.skip(f"this Python keeps a spare frame-stack chunk (at most {worst} faults, at depth {depth})")
    assert worst >= ITERATIONS


def test_call_with_headroom_keeps_the_loop_off_every_chunk_boundary():
    """Through ``call_with_headroom`` the loop never crosses a chunk's end, from any base depth."""
    worst, depth = _worst(frame_stack.call_with_headroom)
    assert worst < ITERATIONS // 20, (
        f"{worst} page faults at base depth {depth}: the loop crossed a chunk's end"
    )


def test_call_with_headroom_is_a_plain_call():
    """Same thread, same result and exception, and nested calls run directly."""

    def inner(value: int, *, twice: bool) -> tuple[int, bool]:
        return (value * 2 if twice else value), frame_stack.has_headroom()

    assert not frame_stack.has_headroom()
    assert frame_stack.call_with_headroom(inner, 21, twice=True) == (42, True)
    assert frame_stack.call_with_headroom(frame_stack.call_with_headroom, inner, 1, twice=False) == (1, True)
    assert not frame_stack.has_headroom()

    def fails() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        frame_stack.call_with_headroom(fails)
    assert not frame_stack.has_headroom()
