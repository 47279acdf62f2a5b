"""``hold_pipeline``: one holder of a pipeline folder at a time, on a worker (flock) and across workers (lease).

Contenders are real processes (``subprocess``): a lock held by another process, a lease held by a process
with another local folder (another worker) on a shared ``file://`` store, a holder killed with SIGKILL. The
lease files a store may hold are untrusted: corrupt, huge, forged, a pickle, a symlink.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from airflow_dlt_provider.exceptions import (
    DltProviderError,
    InvalidArgumentError,
    PipelineBusyError,
    PipelineLeaseLostError,
)
from airflow_dlt_provider.runtime import holder as holder_module
from airflow_dlt_provider.runtime.holder import (
    MAX_RECORD_BYTES,
    LeaseRecord,
    hold_pipeline,
    holder_settings,
    lease_context,
    lock_path,
    parse_lease,
    parse_record,
)
from airflow_dlt_provider.runtime.store_signing import sign_record

CHILD = r"""
import json, os, sys, time
from pathlib import Path
from airflow_dlt_provider.runtime.holder import hold_pipeline
from airflow_dlt_provider.exceptions import PipelineBusyError

args = json.loads(sys.argv[1])
store = args["store"]
log = Path(args["log"]) if args.get("log") else None
for round_ in range(args.get("rounds", 1)):
    try:
        with hold_pipeline(
            Path(args["folder"]), holder=args["holder"], store_entry=Path(store) if store else None,
            wait_seconds=args["wait"], lease_seconds=args["lease"], poll_seconds=0.05,
        ):
            if log:
                with open(log, "a") as handle:
                    handle.write(json.dumps({"who": args["holder"]["task_id"], "in": time.time()}) + "\n")
            print("acquired", flush=True)
            time.sleep(args["hold"])
            if log:
                with open(log, "a") as handle:
                    handle.write(json.dumps({"who": args["holder"]["task_id"], "out": time.time()}) + "\n")
    except PipelineBusyError as error:
        print("busy", error, flush=True)
        sys.exit(3)
print("released", flush=True)
"""


@pytest.fixture(autouse=True)
def _workers_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """One key for this process and the holder processes it starts (leases are signed), as on every worker."""
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_KEY", "the-workers-key")


def _holder(task: str = "load", **extra: Any) -> dict[str, Any]:
    return {
        "dag_id": "shop_dag",
        "run_id": "scheduled__2026-03-01T00:00:00+00:00",
        "task_id": task,
        "map_index": 2,
        "try_number": 1,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        **extra,
    }


def _start(
    folder: Path,
    *,
    hold: float,
    store: Path | None = None,
    task: str = "first",
    wait: float = 30,
    lease: float = 3,
    rounds: int = 1,
    log: Path | None = None,
) -> subprocess.Popen[str]:
    """A holder process; returns once it holds the pipeline (or fails to)."""
    args = {
        "folder": str(folder),
        "store": str(store) if store else None,
        "holder": {**_holder(task), "pid": None},
        "wait": wait,
        "lease": lease,
        "hold": hold,
        "rounds": rounds,
        "log": str(log) if log else None,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process


def _wait_acquired(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    lines = []
    while (line := process.stdout.readline()) and line.strip() != "acquired":  # the holder's log lines first
        lines.append(line)
    assert line.strip() == "acquired", (lines, process.stderr.read() if process.stderr else "")


def _finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


# ---------------------------------------------------------------- the local lock


def test_a_second_process_waits_then_fails_retryably_naming_the_holder(tmp_path: Path) -> None:
    folder = tmp_path / ".pipelines" / "shop"
    child = _start(folder, hold=30, task="orders")
    _wait_acquired(child)
    try:
        started = time.monotonic()
        with (
            pytest.raises(PipelineBusyError) as caught,
            hold_pipeline(
                folder, holder=_holder("users"), wait_seconds=1.0, lease_seconds=3, poll_seconds=0.1
            ),
        ):
            pytest.fail("held a folder another process holds")
        waited = time.monotonic() - started
    finally:
        child.kill()
        child.wait()
    assert 1.0 <= waited < 5
    message = str(caught.value)
    for part in (
        "'shop'",
        "DAG 'shop_dag'",
        "run 'scheduled__2026-03-01T00:00:00+00:00'",
        "task 'orders'",
        "map index 2",
        "try 1",
        f"worker {socket.gethostname()!r}",
        "holder_wait_seconds",
    ):
        assert part in message, (part, message)
    # a plain provider error: Airflow retries it (AirflowFailException would not)
    assert isinstance(caught.value, DltProviderError)
    from airflow_dlt_provider._compat import airflow_fail_exception

    assert not isinstance(caught.value, airflow_fail_exception())
    assert lock_path(folder).is_file() and lock_path(folder).parent == folder.parent


def test_a_waiting_holder_gets_the_folder_once_the_first_releases_it(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    child = _start(folder, hold=1.5)
    _wait_acquired(child)
    started = time.monotonic()
    with hold_pipeline(
        folder, holder=_holder("second"), wait_seconds=30, lease_seconds=3, poll_seconds=0.05
    ) as held:
        waited = time.monotonic() - started
        record = parse_record(lock_path(folder).read_bytes())
    assert _finish(child)[0] == 0
    assert 0.5 < waited < 15
    assert held.waited_seconds >= 0.5 and held.lease is None
    assert record.holder["task_id"] == "second" and record.holder["pid"] == os.getpid()


def test_the_holding_is_bracketed_by_two_log_lines_inside_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The task log shows when a task held the pipeline (the scheduler tests compare these spans); the
    second line comes before the lock is given back, so the lines of two holders never interleave."""
    folder = tmp_path / "shop"
    caplog.set_level("INFO", logger="airflow_dlt_provider.runtime.holder")
    with hold_pipeline(folder, holder=_holder(), wait_seconds=5, lease_seconds=3, poll_seconds=0.05):
        inside = [record.getMessage() for record in caplog.records]
    with (
        pytest.raises(RuntimeError),
        hold_pipeline(folder, holder=_holder(), wait_seconds=5, lease_seconds=3, poll_seconds=0.05),
    ):
        raise RuntimeError("the task failed")
    messages = [record.getMessage() for record in caplog.records]
    assert inside == ["pipeline 'shop': this task holds its folder (waited 0 s)"]
    assert messages == [
        *inside,
        "pipeline 'shop': this task releases its folder",
        *inside,
        "pipeline 'shop': this task releases its folder",
    ]


def test_a_holder_that_never_got_the_folder_logs_no_release(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "shop"
    child = _start(folder, hold=30)
    _wait_acquired(child)
    caplog.set_level("INFO", logger="airflow_dlt_provider.runtime.holder")
    with (
        pytest.raises(PipelineBusyError),
        hold_pipeline(folder, holder=_holder(), wait_seconds=0.2, lease_seconds=3, poll_seconds=0.05),
    ):
        pass
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not [
        r for r in caplog.records if "holds its folder" in r.getMessage() or "releases" in r.getMessage()
    ]


def test_a_killed_holder_frees_the_folder_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    child = _start(folder, hold=60)
    _wait_acquired(child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    started = time.monotonic()
    with hold_pipeline(folder, holder=_holder(), wait_seconds=5, lease_seconds=3, poll_seconds=0.05):
        assert time.monotonic() - started < 1


def test_threads_of_one_process_exclude_each_other_too(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    inside: list[int] = []
    overlaps: list[int] = []

    def work(index: int) -> None:
        with hold_pipeline(
            folder, holder=_holder(f"t{index}"), wait_seconds=30, lease_seconds=3, poll_seconds=0.01
        ):
            inside.append(index)
            if len(inside) > 1:
                overlaps.append(index)
            time.sleep(0.05)
            inside.remove(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []


def test_a_symlinked_lock_file_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    lock_path(folder).symlink_to(target)
    with (
        pytest.raises(InvalidArgumentError, match="symbolic link"),
        hold_pipeline(folder, holder=_holder(), wait_seconds=0, lease_seconds=3),
    ):
        pass
    assert target.read_text() == "keep me"


# ---------------------------------------------------------------- the store lease across workers (file://)


def _leases(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if p.name.startswith("lease."))


def _lease(path: Path, scope: str = "shop") -> LeaseRecord:
    """A lease file as the workers read it (signed for ``scope`` and the generation in its name)."""
    return parse_lease(path.read_bytes(), scope, int(path.name.split(".")[1]))


def _signed_lease(scope: str, generation: int, **fields: Any) -> bytes:
    """What a worker holding the key writes (a real takeover, or the key in the wrong hands)."""
    record = {"v": 1, "holder": _holder("thief"), "token": "f" * 32, "beats": 0, "released": False, **fields}
    return json.dumps(sign_record(lease_context(scope, generation), record)).encode()


def test_two_workers_never_hold_one_store_lease_together(tmp_path: Path) -> None:
    """Three processes, each with its own local folder (three workers), share one file:// store entry."""
    store = tmp_path / "store" / "shop"
    log = tmp_path / "holds.jsonl"
    children = [
        _start(tmp_path / f"worker{i}" / "shop", hold=0.15, store=store, task=f"w{i}", rounds=4, log=log)
        for i in range(3)
    ]
    for child in children:
        code, output = _finish(child)
        assert code == 0, output
    events = [json.loads(line) for line in log.read_text().splitlines()]
    intervals = []
    for who in ("w0", "w1", "w2"):
        ins = [e["in"] for e in events if e["who"] == who and "in" in e]
        outs = [e["out"] for e in events if e["who"] == who and "out" in e]
        assert len(ins) == len(outs) == 4
        intervals += list(zip(ins, outs, strict=True))
    intervals.sort()
    for (_, first_out), (second_in, _) in zip(intervals, intervals[1:], strict=False):
        assert second_in >= first_out, intervals
    # one current lease remains, released, at the generation of the 12th hold
    (name,) = _leases(store)
    assert name == "lease.000000000011.json"
    assert _lease(store / name).released


def test_a_worker_waits_for_the_lease_then_fails_naming_the_holder(tmp_path: Path) -> None:
    store = tmp_path / "store" / "shop"
    child = _start(tmp_path / "worker1" / "shop", hold=30, store=store, task="orders", lease=3)
    _wait_acquired(child)
    try:
        started = time.monotonic()
        with (
            pytest.raises(PipelineBusyError) as caught,
            hold_pipeline(
                tmp_path / "worker2" / "shop",
                holder=_holder("users"),
                store_entry=store,
                wait_seconds=4.5,  # longer than the lease: the heartbeat keeps it alive
                lease_seconds=3,
                poll_seconds=0.1,
            ),
        ):
            pytest.fail("two workers held one lease")
        assert time.monotonic() - started >= 4.5
    finally:
        child.kill()
        child.wait()
    message = str(caught.value)
    assert "task 'orders'" in message and "map index 2" in message and "lease.000000000000.json" in message
    assert "last renewed" in message and "holder_lease_seconds" in message
    assert "package store" in message


def test_the_lease_of_a_killed_holder_is_taken_over_after_it_expires(tmp_path: Path) -> None:
    store = tmp_path / "store" / "shop"
    child = _start(tmp_path / "worker1" / "shop", hold=60, store=store, task="orders", lease=3)
    _wait_acquired(child)
    child.send_signal(signal.SIGKILL)  # no release: its lease stays in the store
    child.wait()
    assert _leases(store) == ["lease.000000000000.json"]
    started = time.monotonic()
    with hold_pipeline(
        tmp_path / "worker2" / "shop",
        holder=_holder("users"),
        store_entry=store,
        wait_seconds=20,
        lease_seconds=3,
        poll_seconds=0.1,
    ) as held:
        waited = time.monotonic() - started
        assert _leases(store) == ["lease.000000000001.json"]  # the dead holder's generation is gone
        assert held.lease is not None and held.lease.endswith("lease.000000000001.json")
        assert _lease(store / "lease.000000000001.json").holder["task_id"] == "users"
    assert 1.0 < waited < 6  # not before the lease was ~3 s old, soon after


def test_the_heartbeat_renews_the_lease_and_release_marks_it(tmp_path: Path) -> None:
    store = tmp_path / "store" / "shop"
    with hold_pipeline(
        tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=1, lease_seconds=3
    ):
        first = _lease(store / "lease.000000000000.json")
        time.sleep(2.3)  # two beats (every second)
        later = _lease(store / "lease.000000000000.json")
    assert first.problem is None and later.token == first.token and later.beats >= 2 > first.beats
    final = _lease(store / "lease.000000000000.json")
    assert final.released
    # released: the next holder does not wait for the expiry
    started = time.monotonic()
    with hold_pipeline(
        tmp_path / "w2" / "shop", holder=_holder(), store_entry=store, wait_seconds=5, lease_seconds=3
    ):
        assert time.monotonic() - started < 1
        assert _leases(store) == ["lease.000000000001.json"]


@pytest.mark.parametrize("signed", [True, False], ids=["by_a_worker", "by_a_forger"])
def test_a_holder_whose_lease_was_taken_over_knows_it(tmp_path: Path, signed: bool) -> None:
    store = tmp_path / "store" / "shop"
    with hold_pipeline(
        tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=1, lease_seconds=3
    ) as held:
        held.check()  # held: nothing raised
        # another worker created the next generation (as after a stall longer than the lease); an unsigned one
        # (a forger) stops the holder too: a forged file can stop a holder, never add a second one
        thief = _signed_lease("shop", 1) if signed else json.dumps({"holder": _holder("thief")}).encode()
        (store / "lease.000000000001.json").write_bytes(thief)
        deadline = time.monotonic() + 5
        while not held.lost and time.monotonic() < deadline:
            time.sleep(0.1)
        assert held.lost
        with pytest.raises(PipelineLeaseLostError, match="taken over") as caught:
            held.check()
    message = str(caught.value)
    if signed:
        assert "task 'thief'" in message and "lease.000000000001.json" in message
    else:
        assert "unknown holder" in message and "thief" not in message
    assert isinstance(caught.value, PipelineBusyError)  # retryable like a busy pipeline
    # the lost holder leaves the new lease alone
    assert (store / "lease.000000000001.json").read_bytes() == thief


def test_a_check_after_a_pause_longer_than_the_lease_asks_the_store(tmp_path: Path) -> None:
    """A paused process may run again before its heartbeat thread: ``check`` itself renews an overdue lease,
    and finds a takeover at once."""
    store = tmp_path / "store" / "shop"
    with hold_pipeline(
        tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=1, lease_seconds=30
    ) as held:
        lease = held._lease
        assert lease is not None
        lease.last_renewed -= 31  # as if the whole process had been paused for 31 s
        held.check()  # still ours: renewed now
        assert _lease(store / "lease.000000000000.json").beats == 1 and not held.lost
        (store / "lease.000000000001.json").write_bytes(_signed_lease("shop", 1))
        held.check()  # renewed 0 s ago: the heartbeat (every 10 s) has not looked yet
        lease.last_renewed -= 31
        with pytest.raises(PipelineLeaseLostError, match="task 'thief'"):
            held.check()


def test_a_forged_released_lease_does_not_let_a_second_holder_in(tmp_path: Path) -> None:
    """The probe: whoever can write to the store writes the next generation claiming to be released."""
    store = tmp_path / "store" / "shop"
    with hold_pipeline(
        tmp_path / "w1" / "shop", holder=_holder("first"), store_entry=store, wait_seconds=1, lease_seconds=3
    ) as first:
        forged = store / "lease.000000000001.json"
        forged.write_text(json.dumps({"holder": _holder("second"), "released": True, "token": "a" * 32}))
        with (
            pytest.raises(PipelineBusyError) as caught,
            hold_pipeline(
                tmp_path / "w2" / "shop",
                holder=_holder("second"),
                store_entry=store,
                wait_seconds=1.5,
                lease_seconds=3,
                poll_seconds=0.1,
            ),
        ):
            pytest.fail("a forged released lease let a second holder in")
        message = str(caught.value)
        assert (
            "unknown holder" in message and "no valid signature" in message and "task 'second'" not in message
        )
        # a forged higher generation stops the first holder (it cannot tell it from a takeover) ...
        deadline = time.monotonic() + 5
        while not first.lost and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.lost
    # ... and is taken over only once it is holder_lease_seconds old by the store's clock
    _age(forged, 10)
    with hold_pipeline(
        tmp_path / "w2" / "shop",
        holder=_holder("second"),
        store_entry=store,
        wait_seconds=0.5,
        lease_seconds=3,
    ):
        assert _leases(store) == ["lease.000000000002.json"]


def test_a_lease_signed_with_another_key_is_a_lease_of_an_unknown_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store" / "shop"
    store.mkdir(parents=True)
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_KEY", "not-the-workers-key")
    (store / "lease.000000000000.json").write_bytes(_signed_lease("shop", 0, released=True))
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_KEY", "the-workers-key")
    with (
        pytest.raises(PipelineBusyError, match="does not match any key"),
        hold_pipeline(
            tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.2, lease_seconds=3
        ),
    ):
        pass


def test_a_signed_lease_copied_to_another_pipeline_or_generation_is_not_honoured(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with hold_pipeline(
        tmp_path / "w" / "orders",
        holder=_holder(),
        store_entry=store / "orders",
        wait_seconds=1,
        lease_seconds=3,
    ):
        pass
    released = (store / "orders" / "lease.000000000000.json").read_bytes()
    assert _lease(store / "orders" / "lease.000000000000.json", "orders").released
    # the released lease of pipeline 'orders', copied into the entry of 'shop' (same name) ...
    (store / "shop").mkdir()
    (store / "shop" / "lease.000000000000.json").write_bytes(released)
    # ... or to a later generation of 'orders' itself
    (store / "orders" / "lease.000000000001.json").write_bytes(released)
    for pipeline, name in (("shop", "lease.000000000000.json"), ("orders", "lease.000000000001.json")):
        with (
            pytest.raises(PipelineBusyError) as caught,
            hold_pipeline(
                tmp_path / "w2" / pipeline,
                holder=_holder(),
                store_entry=store / pipeline,
                wait_seconds=0.3,
                lease_seconds=3,
                poll_seconds=0.1,
            ),
        ):
            pytest.fail(f"a copied released lease was honoured: {pipeline}/{name}")
        assert "unknown holder" in str(caught.value) and name in str(caught.value)


def test_the_lease_scope_binds_the_signature(tmp_path: Path) -> None:
    """The runtime binds a lease to the pipeline's name, whatever the folder is called."""
    store = tmp_path / "store" / "p"
    with hold_pipeline(
        tmp_path / "w" / "folder",
        holder=_holder(),
        store_entry=store,
        wait_seconds=1,
        lease_seconds=3,
        lease_scope="pipeline-name",
    ):
        pass
    assert _lease(store / "lease.000000000000.json", "pipeline-name").released
    assert _lease(store / "lease.000000000000.json", "folder").problem


def test_a_store_lease_without_a_key_fails_clearly_before_anything_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for option in ("DLT__PACKAGE_STORE_KEY", "CORE__FERNET_KEY", "API__SECRET_KEY", "WEBSERVER__SECRET_KEY"):
        monkeypatch.setenv(f"AIRFLOW__{option}", "")
    with (
        pytest.raises(InvalidArgumentError, match="package_store_key"),
        hold_pipeline(
            tmp_path / "w" / "shop",
            holder=_holder(),
            store_entry=tmp_path / "store",
            wait_seconds=0,
            lease_seconds=3,
        ),
    ):
        pass
    assert not (tmp_path / "store").exists() and not lock_path(tmp_path / "w" / "shop").exists()


def test_an_object_storage_path_store_entry(tmp_path: Path) -> None:
    from airflow_dlt_provider._compat import object_storage_path

    entry = object_storage_path(f"file://{tmp_path}/store") / "shop"
    with hold_pipeline(
        tmp_path / "w" / "shop", holder=_holder(), store_entry=entry, wait_seconds=1, lease_seconds=3
    ) as held:
        assert held.lease == f"{tmp_path}/store/shop/lease.000000000000.json"
        with (
            pytest.raises(PipelineBusyError, match="task 'load'"),
            hold_pipeline(
                tmp_path / "w2" / "shop",
                holder=_holder("other"),
                store_entry=entry,
                wait_seconds=0.3,
                lease_seconds=3,
                poll_seconds=0.1,
            ),
        ):
            pass


def test_a_store_without_local_files_takes_the_fsspec_path(tmp_path: Path) -> None:
    """fsspec's memory filesystem: exclusive create with ``"xb"``, listing times from the store, read back."""
    import fsspec

    fs = fsspec.filesystem("memory")

    class Entry:  # what an ObjectStoragePath offers: .fs and .path
        def __init__(self, path: str) -> None:
            self.fs, self.path = fs, path

    entry = Entry(f"/adp-{os.getpid()}-{time.time_ns()}/shop")
    errors: list[BaseException] = []
    inside: list[str] = []
    overlaps: list[str] = []

    def work(name: str) -> None:
        try:
            for _ in range(3):
                with hold_pipeline(
                    tmp_path / name / "shop",
                    holder=_holder(name),
                    store_entry=entry,
                    wait_seconds=30,
                    lease_seconds=3,
                    poll_seconds=0.01,
                ):
                    inside.append(name)
                    if len(inside) > 1:
                        overlaps.append(name)
                    time.sleep(0.02)
                    inside.remove(name)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and overlaps == []
    names = [info["name"].rsplit("/", 1)[-1] for info in fs.ls(entry.path, detail=True)]
    assert names == ["lease.000000000008.json"]


# ---------------------------------------------------------------- untrusted lease files


def _age(path: Path, seconds: float) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment), follow_symlinks=False)


def test_a_corrupt_lease_counts_as_an_unknown_holder_until_it_is_old(tmp_path: Path) -> None:
    store = tmp_path / "store" / "shop"
    store.mkdir(parents=True)
    corrupt = store / "lease.000000000004.json"
    corrupt.write_bytes(b"\x00\xff{not json")
    with (
        pytest.raises(PipelineBusyError) as caught,
        hold_pipeline(
            tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.2, lease_seconds=3
        ),
    ):
        pass
    assert "unknown holder" in str(caught.value) and "not the provider's JSON" in str(caught.value)
    _age(corrupt, 10)
    with hold_pipeline(
        tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.2, lease_seconds=3
    ):
        assert _leases(store) == ["lease.000000000005.json"]


def test_a_huge_lease_is_not_read_past_the_cap(tmp_path: Path) -> None:
    store = tmp_path / "store" / "shop"
    store.mkdir(parents=True)
    huge = store / "lease.000000000000.json"
    with huge.open("wb") as handle:
        handle.write(b'{"holder": {"task_id": "' + b"x" * 1000)
        handle.truncate(512 * 1024 * 1024)  # sparse: 512 MB that cost no disk
    tracemalloc.start()
    try:
        with (
            pytest.raises(PipelineBusyError) as caught,
            hold_pipeline(
                tmp_path / "w" / "shop",
                holder=_holder(),
                store_entry=store,
                wait_seconds=0.1,
                lease_seconds=3,
            ),
        ):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"larger than {MAX_RECORD_BYTES} bytes" in str(caught.value)
    assert peak < 2 * 1024 * 1024


def test_a_signed_lease_shows_only_cleaned_holder_fields_and_its_claims_of_time_are_ignored(
    tmp_path: Path,
) -> None:
    """Signed with the workers' key (a leaked key, a buggy worker): still cleaned, and its time claims ignored."""
    store = tmp_path / "store" / "shop"
    store.mkdir(parents=True)
    forged = store / "lease.000000000007.json"
    forged.write_text(
        json.dumps(
            sign_record(
                lease_context("shop", 7),
                {
                    "holder": {
                        "dag_id": "evil\x1b[31m\nFAKE LOG LINE",
                        "task_id": "t" * 5000,
                        "map_index": "0; rm -rf /",
                        "pid": True,
                        "password": "hunter2-secret",
                    },
                    "token": "not-a-token",
                    "expires_at": "9999-12-31T00:00:00+00:00",
                    "released": "yes",
                    "__reduce__": "os.system",
                },
            )
        )
    )
    with (
        pytest.raises(PipelineBusyError) as caught,
        hold_pipeline(
            tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.1, lease_seconds=3
        ),
    ):
        pass
    message = str(caught.value)
    assert "hunter2" not in message and "\x1b" not in message and "\n" not in message
    assert "rm -rf" not in message  # map_index must be an int
    assert "t" * 300 not in message and "t" * 190 in message  # shortened
    assert "pid ?" in message  # a bool is no pid
    assert (
        "unknown holder" not in message
    )  # signed: its (cleaned) holder is shown; "released": "yes" is not True
    # its far-future expiry is not believed: old by the store's clock, it is taken over
    _age(forged, 10)
    with hold_pipeline(
        tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.5, lease_seconds=3
    ):
        assert _leases(store) == ["lease.000000000008.json"]


class _Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {_Payload.marker}",))

    marker = ""


def test_a_pickle_in_the_store_is_never_unpickled(tmp_path: Path) -> None:
    store = tmp_path / "store" / "shop"
    store.mkdir(parents=True)
    marker = tmp_path / "pwned"
    _Payload.marker = str(marker)
    (store / "lease.000000000000.json").write_bytes(pickle.dumps(_Payload()))
    with (
        pytest.raises(PipelineBusyError, match="not the provider's JSON"),
        hold_pipeline(
            tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.1, lease_seconds=3
        ),
    ):
        pass
    assert not marker.exists()


def test_a_symlink_or_folder_posing_as_a_lease_is_not_followed(tmp_path: Path) -> None:
    store = tmp_path / "store" / "shop"
    store.mkdir(parents=True)
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"holder": {"task_id": "from-secret-file"}}))
    (store / "lease.000000000003.json").symlink_to(secret)
    with (
        pytest.raises(PipelineBusyError) as caught,
        hold_pipeline(
            tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.1, lease_seconds=3
        ),
    ):
        pass
    assert "from-secret-file" not in str(caught.value) and "not a regular file" in str(caught.value)
    _age(store / "lease.000000000003.json", 10)
    with hold_pipeline(
        tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.5, lease_seconds=3
    ):
        assert _leases(store) == ["lease.000000000004.json"]
    assert json.loads(secret.read_text())["holder"]["task_id"] == "from-secret-file"


def test_a_forged_highest_generation_fails_clearly(tmp_path: Path) -> None:
    store = tmp_path / "store" / "shop"
    store.mkdir(parents=True)
    top = store / "lease.999999999999.json"
    top.write_text(json.dumps({"holder": {}, "released": True}))
    _age(top, 10)  # unsigned: its "released" is not believed, but it is old
    with (
        pytest.raises(InvalidArgumentError, match="remove the lease"),
        hold_pipeline(
            tmp_path / "w" / "shop", holder=_holder(), store_entry=store, wait_seconds=0.1, lease_seconds=3
        ),
    ):
        pass


def test_records_parse_defensively() -> None:
    assert parse_record(b"[" * 100_00 + b"]" * 100_00).problem  # deep nesting: no RecursionError escapes
    assert parse_record(b'"just a string"').problem
    assert parse_record(None).problem
    ok = parse_record(json.dumps({"holder": {"task_id": "a", "map_index": 3}, "token": "a" * 32}).encode())
    assert ok.problem is None and ok.holder == {"task_id": "a", "map_index": 3} and ok.token == "a" * 32


# ---------------------------------------------------------------- arguments and configuration


def test_arguments_are_checked(tmp_path: Path) -> None:
    with (
        pytest.raises(InvalidArgumentError, match="lease_seconds=1"),
        hold_pipeline(tmp_path / "x", holder=_holder(), wait_seconds=1, lease_seconds=1),
    ):
        pass
    with (
        pytest.raises(InvalidArgumentError, match="wait_seconds=-1"),
        hold_pipeline(tmp_path / "x", holder=_holder(), wait_seconds=-1, lease_seconds=3),
    ):
        pass
    with (
        pytest.raises(InvalidArgumentError, match="store_entry="),
        hold_pipeline(tmp_path / "x", holder=_holder(), store_entry=42, wait_seconds=1, lease_seconds=3),
    ):
        pass


def test_settings_come_from_the_dlt_section(monkeypatch: pytest.MonkeyPatch) -> None:
    assert holder_settings() == (holder_module.DEFAULT_WAIT_SECONDS, holder_module.DEFAULT_LEASE_SECONDS)
    monkeypatch.setenv("AIRFLOW__DLT__HOLDER_WAIT_SECONDS", "45")
    monkeypatch.setenv("AIRFLOW__DLT__HOLDER_LEASE_SECONDS", "30.5")
    assert holder_settings() == (45.0, 30.5)
    monkeypatch.setenv("AIRFLOW__DLT__HOLDER_LEASE_SECONDS", "1")
    with pytest.raises(InvalidArgumentError, match=r"\[dlt\] holder_lease_seconds = '1'.*>= 3"):
        holder_settings()
    monkeypatch.setenv("AIRFLOW__DLT__HOLDER_LEASE_SECONDS", "soon")
    with pytest.raises(InvalidArgumentError, match="holder_lease_seconds"):
        holder_settings()


# ---------------------------------------------------------------- a real run whose lease is taken over

TAKEN_OVER_PIPELINE = """
import json
import os
import shutil
import time
from pathlib import Path

import dlt

from airflow_dlt_provider.runtime.holder import lease_context
from airflow_dlt_provider.runtime.store_signing import sign_record
from airflow_dlt_provider.runtime.workdir import path_part

WORK = {work!r}
STORE = {store!r}
PIPELINE = {pipeline!r}
THIEF = {thief!r}

@dlt.resource(name="items", write_disposition="append")
def items():
    yield [{{"id": n}} for n in range(30)]

@dlt.destination(batch_size=10, loader_file_format="typed-jsonl", name="sink")
def sink(rows, table):
    with open(WORK + "/sink.jsonl", "a") as handle:
        for row in rows:
            handle.write(json.dumps({{"id": row["id"]}}) + "\\n")
    if os.path.exists(WORK + "/taken"):
        return
    # while the first batch is delivered, another worker takes the pipeline over (as after a stall longer
    # than the lease): it creates the next generation of the lease, signed with the workers' key
    holder = Path(STORE) / path_part(PIPELINE) / ".holder"
    generation = max(int(p.name.split(".")[1]) for p in holder.glob("lease.*.json")) + 1
    shutil.copytree(STORE, WORK + "/store_at_takeover", ignore=shutil.ignore_patterns(".holder"))
    record = {{"v": 1, "holder": THIEF, "token": "f" * 32, "beats": 0, "released": False}}
    signed = sign_record(lease_context(PIPELINE, generation), record)
    (holder / f"lease.{{generation:012d}}.json").write_text(json.dumps(signed))
    open(WORK + "/taken", "w").close()
    time.sleep(4)  # the victim's heartbeat (every second with a 3 s lease) sees the new generation
"""


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".holder" not in path.relative_to(root).parts
    }


def test_a_run_whose_lease_is_taken_over_stops_before_its_next_store_write(
    dags_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The probe's second half: a function destination, its lease taken over while it delivers the first of
    three batches. Before: it went on delivering (rows a second holder also delivers) and writing progress
    records and its archive to the store. Now it stops at the next write dlt records (on the load thread),
    delivers nothing more, writes nothing more to the store, and fails retryably naming the new holder."""
    import uuid

    from support.dag_runs import write_dag

    from airflow_dlt_provider.runtime.workdir import PIPELINES_FOLDER
    from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

    work, store, worker = tmp_path / "work", tmp_path / "store", tmp_path / "worker_a"
    work.mkdir()
    dag_id, pipeline = f"lease_{uuid.uuid4().hex[:8]}", f"leased_{uuid.uuid4().hex[:8]}"
    thief = {**_holder("thief"), "hostname": "worker-b", "pid": 4242}
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE", f"file://{store}")
    monkeypatch.setenv("AIRFLOW__DLT__WORKING_DIR", str(worker))
    monkeypatch.setenv("AIRFLOW__DLT__HOLDER_LEASE_SECONDS", "3")
    # one load thread: the items job's own thread is the first to record progress after the takeover (its
    # delivered batch), so the stop goes through the load thread and the job's re-queue on dlt's main thread
    monkeypatch.setenv("LOAD__WORKERS", "1")
    path = write_dag(
        dags_folder,
        dag_id,
        f"DltRunOperator(task_id='load', source=items, pipeline_name={pipeline!r}, destination=sink, retries=0)",
        imports=TAKEN_OVER_PIPELINE.format(work=str(work), store=str(store), pipeline=pipeline, thief=thief),
    )
    try:
        result = run_dag(load_dag(path, dag_id))
    finally:
        path.unlink()

    assert result.task_states == {"load": "failed"}
    delivered = sorted(json.loads(line)["id"] for line in (work / "sink.jsonl").read_text().splitlines())
    assert delivered == list(range(10))  # the batch in flight; not the two after it
    # nothing written to the store after the takeover: no progress record, no archive of the failed attempt
    assert _files(store) == _files(work / "store_at_takeover")
    assert any(
        name.endswith("pending.tar") for name in _files(store)
    )  # the copy the new holder continues from
    leases = sorted((store / pipeline / ".holder").glob("lease.*.json"))
    assert _lease(leases[-1], pipeline).holder["task_id"] == "thief"  # the new holder's lease, left alone
    assert (
        _lease(leases[0], pipeline).holder["task_id"] == "load" and not _lease(leases[0], pipeline).released
    )
    # the lost holder's local copy is dropped: the store's copy is the new holder's
    local = worker / PIPELINES_FOLDER / pipeline
    assert not local.exists() or not any(local.iterdir())
    log = caplog.text
    assert "this task lost its package-store lease" in log and "task 'thief'" in log and "worker-b" in log
    assert "dlt run failed (PipelineStepFailed)" in log  # retryable, like a busy pipeline ...
    assert "a retry cannot fix" not in log  # ... not turned into AirflowFailException
    assert "its folder is not copied to the package store" in log
