"""The fault-injection matrix of issue 22: run one cell, compare it with a clean twin, give a verdict.

A **cell** is (fault point, write disposition, destination, store). It runs the data of
``fault_sources.py`` as Airflow would, through ``DltRunOperator.execute(context)`` of an operator built
inside a DAG, every attempt in a **forked** child process (the parent has imported dlt and Airflow once):

1. run 1, clean (worker ``A``);
2. run 2, attempt 1 with the fault armed (worker ``A``);
3. retries of run 2 without the fault (same DAG, task and run id, ``try_number + 1``) until one succeeds,
   at most :data:`MAX_ATTEMPTS` attempts in all. Without a store a retry runs in the same working dir; with
   a ``file://`` store (``AIRFLOW__DLT__PACKAGE_STORE``) each retry runs as another worker (its own
   ``AIRFLOW__DLT__WORKING_DIR``);
4. the destination's user tables (user columns only; ``_dlt_*`` ignored, scd2 reduced to "is current") are
   compared as multisets of rows with the **clean twin**: run 1 + run 2 without faults into a destination of
   its own (computed once per destination x disposition and cached).

Verdicts: ``exactly-once`` (equal); ``bounded`` (only extra copies of rows the clean twin has, per table at
most the rows of the job (SQL, filesystem: ``FILE_MAX_ITEMS`` with ``LOAD__WORKERS=1``) or batch (function
destination: ``SINK_BATCH_SIZE``) in flight, and a WARNING of the task log names each such table with
"may hold repeated rows" or "may be loaded twice"); ``LOST`` (a row of the clean twin is missing);
``DUPLICATED`` (anything else). Cell statuses beyond the verdicts: ``not-armed`` (a patch target is gone:
the harness cannot inject the fault), ``not-fired`` (armed but never reached), ``no-success`` (no attempt of
run 2 succeeded within :data:`MAX_ATTEMPTS`), ``harness-error`` (run 1 or the clean twin failed). Only
``exactly-once`` and ``bounded`` pass.

Fault points (what the forked attempt patches; exact targets in :data:`PATCH_TARGETS`):

=================  ===================================================================================
``before_extract`` ``Pipeline.extract`` raises ``ConnectionError`` at entry
``mid_extract``    the resource raises ``ConnectionError`` after half its rows (env ``FAULTS_MID_EXTRACT``)
``after_extract``  ``Pipeline.extract`` runs, then raises ``ConnectionError``
``mid_normalize``  ``Pipeline.normalize`` raises ``OSError(28, 'No space left on device')`` at entry
``after_normalize`` ``Pipeline.normalize`` runs, then raises ``OSError(28)``
``before_load``    ``Pipeline.load`` raises ``ConnectionError`` at entry
``mid_load``       ``os._exit(137)`` in ``PackageStorage.save_pending_transition`` on the k-th call (k = half
                   the package's jobs): the job committed at the destination, dlt did not record it. For the
                   function destination: ``os._exit(137)`` in the sink right after its k-th batch (k = 10)
``after_load``     ``Pipeline.load`` runs to completion, then ``os._exit(137)`` (before the task reports)
``in_alert``       an ``expect_rows`` alert callable (always unmet expectation) raises ``AirflowTaskTimeout``
                   (a ``BaseException``), as ``execution_timeout`` would
``in_cleanup``     ``pipeline_run._clean_up`` raises ``OSError`` at entry
``store_upload``   every ``PackageStore.upload`` of attempt 1 raises ``OSError`` and ``Pipeline.load`` raises
                   ``ConnectionError`` at entry (the failed attempt must upload and cannot)
``store_download`` attempt 1 fails at ``Pipeline.load`` entry (its packages go to the store); the first
                   ``PackageStore.download`` of attempt 2 raises ``OSError``
``store_remove``   the first ``PackageStore.remove`` raises ``OSError`` (after the load succeeded); for a
                   function destination, whose state stays in the store, the first upload after the load
=================  ===================================================================================

Every fault appends a line to the cell's ``fired`` file when it fires; a cell whose fault never fired fails.

Helpers for single scenarios (the issue's regression tests): :func:`run_attempt` (one attempt, any faults),
:func:`read_tables` (a destination's user rows), :func:`run_cell` (a whole cell).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import logging
import os
import re
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.faults import sources as fault_sources

MAX_ATTEMPTS = 3
ATTEMPT_TIMEOUT_SECONDS = 240.0
DATASET = "faults"
REPEATED_ROWS_PHRASES = ("may hold repeated rows", "may be loaded twice")

FAULTS: tuple[str, ...] = (
    "before_extract",
    "mid_extract",
    "after_extract",
    "mid_normalize",
    "after_normalize",
    "before_load",
    "mid_load",
    "after_load",
    "in_alert",
    "in_cleanup",
    "store_upload",
    "store_download",
    "store_remove",
)
STORE_FAULTS = frozenset({"store_upload", "store_download", "store_remove"})
DISPOSITIONS: tuple[str, ...] = tuple(fault_sources.DISPOSITIONS)
DESTINATIONS: tuple[str, ...] = ("duckdb", "postgres", "filesystem", "function")
STORES: tuple[str, ...] = ("none", "file")

# what each destination supports in dlt 1.31 (its capabilities); the rest is n/a in the table
SUPPORTED: dict[str, tuple[str, ...]] = {
    "duckdb": DISPOSITIONS,
    "postgres": DISPOSITIONS,
    # merge on filesystem needs table_format delta/iceberg (deltalake/pyiceberg); plain jsonl files fall
    # back to append, which is not the disposition asked for
    "filesystem": ("append", "replace"),
    # a @dlt.destination function receives rows; write dispositions are the function's business
    "function": ("append",),
}
NOT_APPLICABLE_REASONS: dict[str, str] = {
    "filesystem": "merge on filesystem needs table_format delta/iceberg (not installed): dlt falls back to append",
    "function": "a @dlt.destination function only receives rows: only append is meaningful",
}

# the exact dotted names the harness patches (a missing one makes the cell ``not-armed``)
PATCH_TARGETS: dict[str, str] = {
    "extract": "dlt.pipeline.pipeline:Pipeline.extract",
    "normalize": "dlt.pipeline.pipeline:Pipeline.normalize",
    "load": "dlt.pipeline.pipeline:Pipeline.load",
    "pending_transition": "dlt.common.storages.load_package:PackageStorage.save_pending_transition",
    "clean_up": "airflow_dlt_provider.runtime.pipeline_run:_clean_up",
    "upload": "airflow_dlt_provider.runtime.package_store:PackageStore.upload",
    "download": "airflow_dlt_provider.runtime.package_store:PackageStore.download",
    "remove": "airflow_dlt_provider.runtime.package_store:PackageStore.remove",
}


# ---------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    fault: str
    disposition: str
    destination: str
    store: str  # "none" | "file"

    @property
    def id(self) -> str:
        return f"{self.fault}-{self.destination}-{self.disposition}-{self.store}"


def all_cells() -> list[Cell]:
    """Every applicable cell: faults x (destination, supported disposition) x store (store faults: file only)."""
    return [
        Cell(fault, disposition, destination, store)
        for fault in FAULTS
        for destination in DESTINATIONS
        for disposition in SUPPORTED[destination]
        for store in STORES
        if store == "file" or fault not in STORE_FAULTS
    ]


def not_applicable() -> list[tuple[str, str, str]]:
    """``(destination, disposition, reason)`` of the combinations the matrix skips."""
    return [
        (destination, disposition, NOT_APPLICABLE_REASONS[destination])
        for destination in DESTINATIONS
        for disposition in DISPOSITIONS
        if disposition not in SUPPORTED[destination]
    ]


# The fixed sample of `make test` (marker faults_sample): every fault point, every destination and both
# stores at least once, weighted to the cells the issue names (merge upsert/scd2, function destination).
SAMPLE: frozenset[str] = frozenset(
    {
        "before_extract-duckdb-append-none",
        "mid_extract-postgres-upsert-file",
        "after_extract-filesystem-append-none",
        "mid_normalize-duckdb-upsert-file",
        "after_normalize-postgres-scd2-none",
        "before_load-duckdb-upsert-none",  # issue 22, scenario 1
        "before_load-duckdb-scd2-none",  # scenario 1
        "before_load-function-append-none",
        "mid_load-duckdb-append-none",
        "mid_load-postgres-append-none",
        "mid_load-filesystem-append-file",
        "mid_load-function-append-file",  # scenario 7
        "after_load-duckdb-delete-insert-file",  # scenario 6
        "after_load-function-append-none",
        "in_alert-duckdb-append-none",  # scenario 4
        "in_alert-postgres-upsert-file",
        "in_cleanup-duckdb-append-file",
        "in_cleanup-function-append-none",
        "store_upload-duckdb-upsert-file",
        "store_download-postgres-append-file",
        "store_remove-filesystem-append-file",  # scenario 6
        "store_remove-function-append-file",
    }
)


# ---------------------------------------------------------------- destinations


@dataclass
class Target:
    """One destination of a cell (or of a clean twin): where it is and how to read it back."""

    kind: str
    root: Path
    dsn: str | None = None  # postgres only

    @property
    def duckdb_path(self) -> Path:
        return self.root / "destination.duckdb"

    @property
    def bucket(self) -> Path:
        return self.root / "bucket"

    @property
    def sink_path(self) -> Path:
        return self.root / "sink.jsonl"

    def destination(self) -> Any:
        """The dlt destination (built in the attempt's process)."""
        import dlt

        if self.kind == "duckdb":
            return dlt.destinations.duckdb(credentials=str(self.duckdb_path))
        if self.kind == "postgres":
            return dlt.destinations.postgres(credentials=self.dsn or "")
        if self.kind == "filesystem":
            return dlt.destinations.filesystem(bucket_url=self.bucket.as_uri())
        if self.kind == "function":
            return fault_sources.fault_sink
        raise ValueError(f"unknown destination kind {self.kind!r}")


def make_target(kind: str, root: Path, postgres: Any = None) -> Target:
    """A fresh destination under ``root`` (PostgreSQL: a new database on ``postgres``, a PostgresServer)."""
    root.mkdir(parents=True, exist_ok=True)
    if kind == "postgres":
        if postgres is None:
            raise ValueError("a postgres cell needs the postgres_server fixture")
        dbname = "f_" + hashlib.sha1(str(root).encode()).hexdigest()[:16]
        return Target(kind, root, dsn=postgres.create_database(dbname))
    return Target(kind, root)


def drop_target(target: Target, postgres: Any = None) -> None:
    if target.kind == "postgres" and postgres is not None and target.dsn:
        dbname = target.dsn.rsplit("/", 1)[1]
        with contextlib.suppress(Exception):
            postgres.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


Rows = dict[str, Counter]  # table -> multiset of rows (a row: sorted ((column, value), ...))


def _row(record: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A row with user columns only; scd2's validity becomes ``_current`` (retired rows stay apart)."""
    items: list[tuple[str, Any]] = []
    for key, value in record.items():
        if key == "_dlt_valid_to":
            items.append(("_current", value is None))
        elif not key.startswith("_dlt") and key != "_table":
            items.append((key, None if value is None else str(value)))
    return tuple(sorted(items))


def _user_tables(names: list[str]) -> list[str]:
    return sorted(n for n in names if not n.startswith("_dlt"))


def read_tables(target: Target, dataset: str = DATASET) -> Rows:
    """The user rows of every user table of ``dataset`` in ``target`` (empty when nothing was loaded)."""
    tables: Rows = {}
    if target.kind == "duckdb":
        if not target.duckdb_path.exists():
            return {}
        import duckdb

        with duckdb.connect(str(target.duckdb_path), read_only=True) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [dataset]
                ).fetchall()
            ]
            for name in _user_tables(names):
                cursor = conn.execute(f'SELECT * FROM "{dataset}"."{name}"')
                columns = [d[0] for d in cursor.description]
                tables[name] = Counter(_row(dict(zip(columns, r, strict=True))) for r in cursor.fetchall())
    elif target.kind == "postgres":
        import psycopg2

        conn = psycopg2.connect(target.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [dataset]
                )
                names = [r[0] for r in cur.fetchall()]
                for name in _user_tables(names):
                    cur.execute(f'SELECT * FROM "{dataset}"."{name}"')
                    columns = [d[0] for d in cur.description]
                    tables[name] = Counter(_row(dict(zip(columns, r, strict=True))) for r in cur.fetchall())
        finally:
            conn.close()
    elif target.kind == "filesystem":
        folder = target.bucket / dataset
        if folder.is_dir():
            for table_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
                if table_dir.name.startswith("_dlt"):
                    continue
                rows: Counter = Counter()
                for path in sorted(table_dir.rglob("*.jsonl")):
                    for line in path.read_text().splitlines():
                        if line.strip():
                            rows[_row(json.loads(line))] += 1
                tables[table_dir.name] = rows
    elif target.kind == "function":
        if target.sink_path.exists():
            for line in target.sink_path.read_text().splitlines():
                record = json.loads(line)
                tables.setdefault(record["_table"], Counter())[_row(record)] += 1
    else:
        raise ValueError(f"unknown destination kind {target.kind!r}")
    return tables


def in_flight_bound(kind: str) -> int:
    """Rows of the one job (SQL, filesystem; ``LOAD__WORKERS=1``) or batch (function) in flight."""
    return fault_sources.SINK_BATCH_SIZE if kind == "function" else fault_sources.FILE_MAX_ITEMS


# ---------------------------------------------------------------- one attempt in a forked child


@dataclass
class AttemptSpec:
    """One attempt of one task instance: who it is, where it runs, what it loads and which faults are armed."""

    pipeline_name: str
    target: Target
    run: int  # 1 or 2: the data of fault_sources.rows_of_run
    disposition: str
    worker_dir: Path  # [dlt] base_dir and working_dir of the "worker" running the attempt
    cell_dir: Path  # marker files (fired faults, counters) and attempt results
    try_number: int = 1
    max_tries: int = MAX_ATTEMPTS - 1
    store_url: str | None = None
    faults: tuple[str, ...] = ()  # armed primitives, see _arm()
    alert: bool = False  # an expect_rows alert callable (raises when "alert" is among the faults)
    dag_id: str = "faults"
    task_id: str = "accounts"

    @property
    def run_id(self) -> str:
        return f"manual__run{self.run}"

    @property
    def name(self) -> str:
        return f"run{self.run}-try{self.try_number}"


@dataclass
class AttemptResult:
    name: str
    exit_code: int  # 0 success, 1 an exception, 137 killed (os._exit), -N a signal, 124 timeout
    error: str | None = None
    summary: dict[str, Any] | None = None
    not_armed: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and self.summary is not None


class NotArmed(RuntimeError):
    """A patch target of the harness does not exist (the code under test changed)."""


def _resolve(dotted: str) -> tuple[Any, str]:
    """``(owner, attribute)`` of ``"module:Class.attr"`` / ``"module:function"``; NotArmed if any part is missing."""
    module_name, _, path = dotted.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise NotArmed(f"{dotted}: {error}") from error
    *parents, attribute = path.split(".")
    for parent in parents:
        if not hasattr(owner, parent):
            raise NotArmed(f"{dotted}: no {parent!r} in {owner!r}")
        owner = getattr(owner, parent)
    if not hasattr(owner, attribute):
        raise NotArmed(f"{dotted}: no {attribute!r} in {owner!r}")
    return owner, attribute


def _patch(key: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    owner, attribute = _resolve(PATCH_TARGETS[key])
    original = getattr(owner, attribute)
    setattr(owner, attribute, make(original))


def _fired(spec: AttemptSpec, what: str) -> None:
    with open(spec.cell_dir / "fired", "a") as handle:
        handle.write(f"{spec.name} {what}\n")


def fired_count(cell_dir: Path) -> int:
    path = cell_dir / "fired"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _package_jobs(storage: Any, load_id: str) -> int:
    """Jobs of a normalized package right now (new, started and completed), followup jobs not yet created."""
    package = Path(storage.get_package_path(load_id))
    return sum(
        1
        for folder in ("new_jobs", "started_jobs", "completed_jobs")
        if (package / folder).is_dir()
        for p in (package / folder).iterdir()
        if p.is_file() and not p.name.startswith(".")
    )


def _arm(spec: AttemptSpec) -> None:  # noqa: C901 (one branch per primitive reads best)
    """Patch the primitives of ``spec.faults`` in this (child) process."""
    for fault in spec.faults:
        if fault in ("before_extract", "after_extract"):
            _patch("extract", _raising(spec, fault, ConnectionError("fault injected: source unreachable")))
        elif fault == "mid_extract":
            os.environ["FAULTS_MID_EXTRACT"] = str(spec.cell_dir / "fired")
        elif fault in ("mid_normalize", "after_normalize"):
            disk_full = OSError(28, "No space left on device")
            _patch("normalize", _raising(spec, fault, disk_full))
        elif fault == "before_load":
            _patch("load", _raising(spec, fault, ConnectionError("fault injected: warehouse unreachable")))
        elif fault == "after_load":
            _patch("load", _killing_after(spec, fault))
        elif fault == "mid_load":
            if spec.target.kind == "function":
                os.environ["FAULTS_SINK_KILL_AFTER"] = str(_sink_batches(spec) // 2)
                os.environ["FAULTS_SINK_COUNTER"] = str(spec.cell_dir / f"{spec.name}.batches")
            else:
                _patch("pending_transition", _killing_at_half(spec))
        elif fault == "in_alert":
            pass  # the alert callable reads spec.faults
        elif fault == "in_cleanup":
            _patch("clean_up", _raising(spec, fault, OSError("fault injected: clean-up failed")))
        elif fault == "remove_once" and spec.target.kind == "function":
            # a function destination keeps its state in the store after a success (dlt cannot restore it from
            # the destination): its clean-up's store write is an upload, not a remove
            _patch("load", _marking_loaded(spec))
            _patch("upload", _raising_once_after_load(spec, fault))
        elif fault in ("upload_always", "download_once", "remove_once"):
            key = fault.split("_")[0]
            error = OSError(f"fault injected: package store {key} failed")
            _patch(key, _raising(spec, fault, error, once=fault != "upload_always"))
        else:
            raise NotArmed(f"unknown fault primitive {fault!r}")


_LOADED = {"done": False}


def _marking_loaded(spec: AttemptSpec) -> Any:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            _LOADED["done"] = True
            return result

        return wrapper

    return make


def _raising_once_after_load(spec: AttemptSpec, fault: str) -> Any:
    """The first ``PackageStore.upload`` after dlt's load returned raises (the clean-up's store write)."""
    state = {"fired": False}

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _LOADED["done"] and not state["fired"]:
                state["fired"] = True
                _fired(spec, fault)
                raise OSError("fault injected: package store write after the load failed")
            return original(*args, **kwargs)

        return wrapper

    return make


def _raising(spec: AttemptSpec, fault: str, error: BaseException, once: bool = False) -> Any:
    """A wrapper factory: raise ``error`` at entry (``before_*``, ``mid_*``, the rest) or after (``after_*``)."""
    after = fault.startswith("after_")
    state = {"fired": False}

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if once and state["fired"]:
                return original(*args, **kwargs)
            if after:
                original(*args, **kwargs)
            state["fired"] = True
            _fired(spec, fault)
            raise error

        return wrapper

    return make


def _killing_after(spec: AttemptSpec, fault: str) -> Any:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            original(*args, **kwargs)
            _fired(spec, fault)
            os._exit(137)

        return wrapper

    return make


def _killing_at_half(spec: AttemptSpec) -> Any:
    """Exit on the k-th committed job (k = half the jobs of the package at the first commit)."""
    state: dict[str, int] = {"calls": 0, "k": 0}

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, load_id: str, file_name: str, *args: Any, **kwargs: Any) -> Any:
            if not state["k"]:
                state["k"] = max(1, _package_jobs(self, load_id) // 2)
            state["calls"] += 1
            if state["calls"] >= state["k"]:
                _fired(
                    spec, f"mid_load after job {file_name} committed ({state['calls']} of ~{2 * state['k']})"
                )
                os._exit(137)
            return original(self, load_id, file_name, *args, **kwargs)

        return wrapper

    return make


def _sink_batches(spec: AttemptSpec) -> int:
    rows = fault_sources.rows_of_run(spec.run)
    children = sum(len(r["tags"]) for r in rows)
    size = fault_sources.SINK_BATCH_SIZE
    return -(-len(rows) // size) + -(-children // size)


def _task_timeout() -> type[BaseException]:
    try:
        from airflow.exceptions import AirflowTaskTimeout
    except ImportError:  # pragma: no cover

        class AirflowTaskTimeout(BaseException):  # type: ignore[no-redef]
            pass

    assert issubclass(AirflowTaskTimeout, BaseException)
    return AirflowTaskTimeout


class _TaskInstance:
    """What the provider reads of Airflow's task instance."""

    def __init__(self, spec: AttemptSpec, pool: str) -> None:
        self.dag_id = spec.dag_id
        self.task_id = spec.task_id
        self.run_id = spec.run_id
        self.map_index = -1
        self.try_number = spec.try_number
        self.max_tries = spec.max_tries
        self.pool = pool
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcom[key] = value


def attempt_env(spec: AttemptSpec) -> dict[str, str | None]:
    """The environment of one attempt (``None`` removes a variable)."""
    return {
        "AIRFLOW__DLT__BASE_DIR": str(spec.worker_dir / "base"),
        "AIRFLOW__DLT__WORKING_DIR": str(spec.worker_dir / "work"),
        "AIRFLOW__DLT__PACKAGE_STORE": spec.store_url,
        "AIRFLOW__DLT__PACKAGE_STORE_CONN_ID": None,
        # a killed attempt's store lease is taken over once it expires: the shortest lease keeps a kill cell's
        # retry from waiting the default 120 s (the takeover itself is what the cell exercises)
        "AIRFLOW__DLT__HOLDER_LEASE_SECONDS": "3",
        "NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS": str(fault_sources.FILE_MAX_ITEMS),
        "DATA_WRITER__FILE_MAX_ITEMS": str(fault_sources.FILE_MAX_ITEMS),
        "NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION": "true",
        "DATA_WRITER__DISABLE_COMPRESSION": "true",
        "LOAD__WORKERS": "1",
        "RUNTIME__DLT_TELEMETRY": "false",
        "FAULTS_SINK_PATH": str(spec.target.sink_path),
        "FAULTS_FIRED": str(spec.cell_dir / "fired"),
        "FAULTS_MID_EXTRACT": None,
        "FAULTS_SINK_KILL_AFTER": None,
        "FAULTS_SINK_COUNTER": None,
    }


class _JsonLines(logging.Handler):
    def __init__(self, path: Path) -> None:
        super().__init__(logging.DEBUG)
        self.sink = open(path, "a", buffering=1)  # noqa: SIM115 (lives until the child exits)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the rest
            message = str(record.msg)
        self.sink.write(
            json.dumps(
                {"level": record.levelname, "logger": record.name, "message": message, "t": record.created}
            )
            + "\n"
        )


def _child(spec: AttemptSpec, result_path: Path, log_path: Path) -> int:
    """The body of a forked attempt: arm, build the operator in a DAG, execute, write the result."""
    out = os.open(str(log_path.with_suffix(".out")), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    for key, value in attempt_env(spec).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    with contextlib.suppress(Exception):  # never share the parent's pooled DB connections
        from airflow import settings

        if settings.engine is not None:
            settings.engine.dispose(close=False)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_JsonLines(log_path))
    root.setLevel(logging.INFO)
    for name in ("airflow_dlt_provider", "dlt"):
        logging.getLogger(name).setLevel(logging.INFO)

    result: dict[str, Any] = {"exit_code": 1}
    try:
        _arm(spec)
    except NotArmed as error:
        result["not_armed"] = str(error)
        result_path.write_text(json.dumps(result))
        return 3

    try:
        from airflow_dlt_provider import DltRunOperator

        try:
            from airflow.sdk import DAG
        except ImportError:  # Airflow 2
            from airflow import DAG  # type: ignore[no-redef]
        import pendulum

        kwargs: dict[str, Any] = {}
        if spec.alert:
            raising = "in_alert" in spec.faults
            timeout = _task_timeout()

            def alert(alert: Any, context: Any) -> None:
                if raising:
                    _fired(spec, "in_alert")
                    raise timeout("fault injected: execution_timeout while the alert ran")

            kwargs["expect_rows"] = {"accounts": (10**9, None, alert)}
        with DAG(spec.dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            operator = DltRunOperator(
                task_id=spec.task_id,
                source=fault_sources.accounts_source,
                source_kwargs={"run": spec.run, "disposition": spec.disposition},
                pipeline_name=spec.pipeline_name,
                destination=spec.target.destination(),
                dataset_name=DATASET,
                emit_assets=False,
                retries=MAX_ATTEMPTS - 1,
                **kwargs,
            )
        ti = _TaskInstance(spec, str(operator.pool))
        context: dict[str, Any] = {
            "ti": ti,
            "task_instance": ti,
            "run_id": spec.run_id,
            "dag_run": None,
            "task": operator,
            "outlet_events": {},
        }
        summary = operator.execute(context)
        result = {"exit_code": 0, "summary": json.loads(json.dumps(summary, default=str))}
        code = 0
    except BaseException as error:  # noqa: BLE001 (an attempt reports every failure, BaseException included)
        result = {
            "exit_code": 1,
            "error": f"{type(error).__module__}.{type(error).__qualname__}: {error}"[:2000],
            "traceback": traceback.format_exc()[-6000:],
        }
        code = 1
    result_path.write_text(json.dumps(result))
    return code


def run_attempt(spec: AttemptSpec, timeout: float = ATTEMPT_TIMEOUT_SECONDS) -> AttemptResult:
    """Run one attempt in a forked child and collect what it left (result, log records, exit code)."""
    spec.cell_dir.mkdir(parents=True, exist_ok=True)
    spec.worker_dir.mkdir(parents=True, exist_ok=True)
    attempts = spec.cell_dir / "attempts"
    attempts.mkdir(exist_ok=True)
    result_path = attempts / f"{spec.name}.json"
    log_path = attempts / f"{spec.name}.log.jsonl"
    for path in (result_path, log_path):
        path.unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child never returns into the caller (pytest)
        code = 70
        try:
            code = _child(spec, result_path, log_path)
        except BaseException:  # noqa: BLE001
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            os._exit(code)
    status = _wait(pid, timeout)
    seconds = time.monotonic() - started
    if status is None:
        exit_code = 124
    elif os.WIFEXITED(status):
        exit_code = os.WEXITSTATUS(status)
    else:
        exit_code = -os.WTERMSIG(status)
    data: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
    logs = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
    error = data.get("error")
    if exit_code not in (0, 1, 3) and not error:
        error = "killed" if exit_code == 137 else f"exit code {exit_code}"
    if exit_code == 70:
        out = log_path.with_suffix(".out")
        error = "harness: the child crashed: " + (out.read_text()[-2000:] if out.exists() else "")
    return AttemptResult(
        name=spec.name,
        exit_code=exit_code,
        error=error,
        summary=data.get("summary"),
        not_armed=data.get("not_armed"),
        logs=logs,
        seconds=seconds,
    )


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.02)


# ---------------------------------------------------------------- a cell


def pipeline_name_for(key: str) -> str:
    return "f_" + hashlib.sha1(key.encode()).hexdigest()[:12]


def faults_for_attempt(fault: str, attempt: int) -> tuple[str, ...]:
    """The primitives armed in run 2's ``attempt`` (1-based) for matrix fault ``fault``."""
    if fault == "store_upload":
        return ("upload_always", "before_load") if attempt == 1 else ()
    if fault == "store_download":
        return {1: ("before_load",), 2: ("download_once",)}.get(attempt, ())
    if fault == "store_remove":
        return ("remove_once",) if attempt == 1 else ()
    return (fault,) if attempt == 1 else ()


def run_twice(
    target: Target,
    disposition: str,
    work: Path,
    fault: str | None = None,
    store: bool = False,
    pipeline_name: str | None = None,
) -> list[AttemptResult]:
    """Run 1 clean, then run 2 (with ``fault`` armed, retried until it succeeds); all attempts, in order."""
    pipeline_name = pipeline_name or pipeline_name_for(str(work))
    store_url = (work / "store").as_uri() if store else None
    alert = fault == "in_alert"

    def spec(run: int, try_number: int, worker: str, faults: tuple[str, ...] = ()) -> AttemptSpec:
        return AttemptSpec(
            pipeline_name=pipeline_name,
            target=target,
            run=run,
            disposition=disposition,
            worker_dir=work / f"worker-{worker}",
            cell_dir=work,
            try_number=try_number,
            store_url=store_url,
            faults=faults,
            alert=alert,
        )

    results = [run_attempt(spec(1, 1, "A"))]
    if not results[0].succeeded:
        return results
    for attempt in range(1, MAX_ATTEMPTS + 1):
        # without a store every retry runs on the same worker; with one, each retry on another worker
        worker = "A" if not store else "ABCDEFGH"[attempt - 1]
        faults = faults_for_attempt(fault, attempt) if fault else ()
        result = run_attempt(spec(2, attempt, worker, faults))
        results.append(result)
        if result.succeeded or result.not_armed:
            break
    return results


@dataclass
class CellResult:
    cell: str
    fault: str
    destination: str
    disposition: str
    store: str
    status: (
        str  # exactly-once | bounded | LOST | DUPLICATED | not-armed | not-fired | no-success | harness-error
    )
    detail: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    fired: int = 0
    seconds: float = 0.0
    missing: dict[str, int] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)
    reported_rows: dict[str, int] | None = None  # the summary of run 2's successful attempt
    clean_reported_rows: dict[str, int] = field(default_factory=dict)  # the clean run 2's summary
    expected_rows: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status in ("exactly-once", "bounded")

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _attempt_record(result: AttemptResult) -> dict[str, Any]:
    return {
        "attempt": result.name,
        "exit_code": result.exit_code,
        "error": result.error,
        "rows": (result.summary or {}).get("rows"),
        "not_armed": result.not_armed,
        "seconds": round(result.seconds, 2),
    }


def repeated_rows_warned(logs: list[dict[str, Any]], table: str) -> bool:
    """Whether a WARNING (or worse) names ``table`` as possibly holding repeated rows."""
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(table)}(?![A-Za-z0-9_])")
    return any(
        record.get("level") in ("WARNING", "ERROR", "CRITICAL")
        and any(phrase in record.get("message", "") for phrase in REPEATED_ROWS_PHRASES)
        and pattern.search(record.get("message", ""))
        for record in logs
    )


def compare(
    got: Rows, clean: Rows, bound: int, logs: list[dict[str, Any]]
) -> tuple[str, str, dict[str, int], dict[str, int]]:
    """``(verdict, detail, missing rows per table, extra rows per table)`` of a cell against its clean twin."""
    missing: dict[str, int] = {}
    extra: dict[str, int] = {}
    notes: list[str] = []
    for table in sorted(set(got) | set(clean)):
        have, want = got.get(table, Counter()), clean.get(table, Counter())
        lost, more = want - have, have - want
        if lost:
            missing[table] = sum(lost.values())
            notes.append(f"{table}: {missing[table]} row(s) missing, e.g. {dict(next(iter(lost)))}")
        if more:
            extra[table] = sum(more.values())
            foreign = [r for r in more if r not in want]
            notes.append(
                f"{table}: {extra[table]} extra row(s)"
                + (f", {len(foreign)} not in the clean run, e.g. {dict(foreign[0])}" if foreign else "")
            )
    if missing:
        return "LOST", "; ".join(notes), missing, extra
    if not extra:
        return "exactly-once", "", missing, extra
    for table, count in extra.items():
        have, want = got.get(table, Counter()), clean.get(table, Counter())
        if any(r not in want for r in have - want):
            return "DUPLICATED", "; ".join(notes), missing, extra
        if count > bound:
            return (
                "DUPLICATED",
                "; ".join([*notes, f"{table}: more than {bound} (in flight)"]),
                missing,
                extra,
            )
        if not repeated_rows_warned(logs, table):
            notes.append(f"{table}: no WARNING names it as possibly holding repeated rows")
            return "DUPLICATED", "; ".join(notes), missing, extra
    return "bounded", "; ".join(notes), missing, extra


class CleanTwins:
    """The clean runs (run 1 + run 2, no faults, no store) per destination x disposition, computed once."""

    def __init__(self, workspace: Path, postgres: Any = None) -> None:
        self.workspace = workspace
        self.postgres = postgres
        self._rows: dict[tuple[str, str], Rows] = {}
        self._reported: dict[tuple[str, str], dict[str, int]] = {}

    def rows(self, destination: str, disposition: str) -> Rows:
        key = (destination, disposition)
        if key not in self._rows:
            work = self.workspace / "clean" / f"{destination}-{disposition}"
            target = make_target(destination, work / "destination", self.postgres)
            try:
                results = run_twice(target, disposition, work)
                if not all(r.succeeded for r in results) or len(results) != 2:
                    failed = [_attempt_record(r) for r in results if not r.succeeded]
                    raise RuntimeError(f"the clean twin {destination}/{disposition} failed: {failed}")
                self._rows[key] = read_tables(target)
                self._reported[key] = dict((results[1].summary or {}).get("rows") or {})
            finally:
                drop_target(target, self.postgres)
        return self._rows[key]

    def reported(self, destination: str, disposition: str) -> dict[str, int]:
        """Rows per table the clean run 2 reported in its summary."""
        self.rows(destination, disposition)
        return self._reported[(destination, disposition)]


def run_cell(cell: Cell, workspace: Path, twins: CleanTwins, postgres: Any = None) -> CellResult:
    """Run one cell and judge it (see the module docstring)."""
    started = time.monotonic()
    work = workspace / "cells" / cell.id
    base: dict[str, Any] = {
        "cell": cell.id,
        "fault": cell.fault,
        "destination": cell.destination,
        "disposition": cell.disposition,
        "store": cell.store,
    }
    try:
        clean = twins.rows(cell.destination, cell.disposition)
    except Exception as error:  # noqa: BLE001
        return CellResult(**base, status="harness-error", detail=str(error)[:3000])
    target = make_target(cell.destination, work / "destination", postgres)
    try:
        results = run_twice(target, cell.disposition, work, cell.fault, store=cell.store == "file")
        got = read_tables(target)
    finally:
        drop_target(target, postgres)
    attempts = [_attempt_record(r) for r in results]
    fired = fired_count(work)
    result = CellResult(
        **base,
        status="",
        attempts=attempts,
        fired=fired,
        expected_rows={t: sum(c.values()) for t, c in clean.items()},
    )
    run2 = results[1:]
    logs = [record for r in run2 for record in r.logs]
    if not results[0].succeeded:
        result.status, result.detail = "harness-error", f"run 1 failed: {attempts[0]}"
    elif any(r.not_armed for r in run2):
        result.status = "not-armed"
        result.detail = "; ".join(str(r.not_armed) for r in run2 if r.not_armed)
    elif not fired:
        result.status, result.detail = "not-fired", "the fault was armed but never reached"
    elif not run2 or not run2[-1].succeeded:
        result.status = "no-success"
        result.detail = f"no attempt of run 2 succeeded in {MAX_ATTEMPTS}: " + "; ".join(
            f"{a['attempt']}: {a['error']}" for a in attempts[1:]
        )
    else:
        result.reported_rows = run2[-1].summary.get("rows") if run2[-1].summary else None
        result.clean_reported_rows = twins.reported(cell.destination, cell.disposition)
        verdict, detail, missing, extra = compare(got, clean, in_flight_bound(cell.destination), logs)
        result.status, result.detail, result.missing, result.extra = verdict, detail, missing, extra
    if result.status in ("LOST", "DUPLICATED", "no-success") and not result.detail.endswith("."):
        errors = [f"{a['attempt']}: {a['error']}" for a in attempts[1:] if a["error"]]
        if errors:
            result.detail += " | attempts: " + "; ".join(e[:300] for e in errors)
    result.seconds = round(time.monotonic() - started, 2)
    return result


def append_result(path: Path, result: CellResult) -> None:
    """Append one cell's result to a JSON-lines file (one writer per file: shards write their own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(json.dumps(result.as_json(), default=str) + "\n")


_PRELOADED = False


@contextlib.contextmanager
def preloaded() -> Iterator[None]:
    """Import what every attempt needs once in the parent, so each fork starts warm (about 1.5 s less per
    attempt: Airflow's ORM mappers, configured on the first Variable lookup, and dlt's destinations)."""
    global _PRELOADED
    if not _PRELOADED:
        import dlt
        import dlt.destinations.impl.duckdb.duck  # noqa: F401
        import dlt.destinations.impl.filesystem.filesystem  # noqa: F401
        import dlt.destinations.impl.postgres.postgres  # noqa: F401
        import dlt.load.load  # noqa: F401
        import dlt.normalize.normalize  # noqa: F401
        import dlt.pipeline.pipeline  # noqa: F401
        import duckdb  # noqa: F401
        import pendulum  # noqa: F401
        import sqlalchemy.orm
        from airflow.models import Variable  # noqa: F401

        import airflow_dlt_provider.operators.run  # noqa: F401
        import airflow_dlt_provider.runtime.pipeline_run  # noqa: F401

        sqlalchemy.orm.configure_mappers()
        dlt.destinations.duckdb(credentials=":memory:").capabilities()
        _PRELOADED = True
    yield
