"""One holder of a pipeline's folder at a time, whatever a pool's slot count says.

``hold_pipeline(folder, holder=..., store_entry=..., wait_seconds=..., lease_seconds=...)`` is a context
manager around everything a task does in a pipeline's folder (``<working_dir>/.pipelines/<pipeline>``):

- **On the worker** an exclusive ``fcntl.flock`` on ``.<folder name>.holder.lock`` beside the folder. The kernel
  drops it when the holding process dies, however it dies (SIGKILL included), so a local lock never goes stale.
  The lock file records its holder as JSON (for the message a waiting task prints); it is never removed (a
  removed lock file lets two processes lock two different inodes).
- **Across workers**, when a package store entry is given, a lease in it: ``lease.<generation>.json`` files, the
  highest generation being the current lease. A task takes the pipeline by *creating* the next generation, and
  the create is exclusive where the scheme offers one (see below), so of two tasks that saw the same state only
  one gets it; nothing is ever deleted or overwritten to take a lease over. The holder renews its own file
  from a heartbeat thread every ``lease_seconds / 3``; on exit it marks it released. A lease whose file the
  store has not seen modified for ``lease_seconds`` (a holder that died, or hangs) is taken over by creating
  the next generation; the new holder then removes the older files.

A second would-be holder polls for up to ``wait_seconds`` (both steps together) and then raises
:class:`~airflow_dlt_provider.exceptions.PipelineBusyError` -- a plain error, so Airflow retries the task --
naming the holder: DAG, run, task, map index, try, worker host and pid.

**Everything read from the store is untrusted** (a bucket is usually writable by more principals than the
workers' code): a lease file is read through a size cap (:data:`MAX_RECORD_BYTES`), parsed as JSON only (never
unpickled, never executed), and must carry an HMAC of the workers' key (``store_signing.py``) over its record,
the pipeline (``lease_scope``) and its generation, so that it cannot be forged, edited or copied from another
pipeline's entry or generation. Only then are its holder and its ``released`` mark believed; the known holder
fields are still cleaned of control characters and shortened before they reach a message. A file without a
valid signature (or not the provider's JSON, or not a regular file) counts as a lease of an unknown holder:
its claims, ``released`` included, are ignored, and it is taken over like any other once it is
``lease_seconds`` old. A lease's own claims about time are ignored: its age is the store's modification time
of the file (set by the store, not by the writer), or, where a listing has none, how long this process has
seen the same bytes.

**What each store scheme guarantees** (the lease's create of the next generation):

- ``file://`` (a local or network file system mounted on every worker): the lease is written to a private
  temporary name and ``os.link``-ed to its final name, which fails if the name exists (``O_EXCL`` semantics,
  atomic on POSIX file systems, and on NFSv3+). The file appears complete or not at all. Renewals replace
  the file with ``os.replace`` (atomic). Where hard links are refused, ``os.open(O_CREAT | O_EXCL)`` is used.
- ``s3://`` (s3fs): ``open(path, "xb")`` sends ``If-None-Match: *`` (S3 conditional writes, since August 2024)
  with s3fs releases that have exclusive writes (fsspec/s3fs#917; small files only since fsspec/s3fs#974, July
  2025): atomic. Older s3fs releases treat ``"xb"`` as ``"wb"`` and S3-compatible stores without conditional
  writes ignore the header: the create is then check-then-write, which two tasks can both pass.
- ``gs://`` (gcsfs): ``open(path, "xb")`` uploads with ``ifGenerationMatch=0`` (gcsfs releases from December
  2024 on, fsspec/gcsfs#651): atomic.
- ``az://`` / ``abfs://`` (adlfs): ``open(path, "xb")`` uploads with ``overwrite=False`` (``If-None-Match: *``,
  adlfs releases from December 2024 on, fsspec/adlfs#491): atomic.
- Any scheme whose client refuses ``"xb"`` (``NotImplementedError``/``ValueError``): check-then-write, logged as
  a warning once per scheme.

On every scheme other than ``file://`` a created lease is read back once and must hold this holder's token
(a check-then-write that lost a race to a last writer notices here). What no scheme can give: a holder that
stalls for longer than ``lease_seconds`` (no renewal reaches the store) loses its lease to the next task while
it may still be working. The heartbeat then sets :attr:`Holding.lost` and logs an error; a higher generation
in the store, or its own file replaced, counts as a takeover too. :meth:`Holding.check` raises
:class:`~airflow_dlt_provider.exceptions.PipelineLeaseLostError` (a retryable ``PipelineBusyError``, naming
who holds the lease now) once the lease is lost, and also renews or gives up a lease whose last renewal is
older than ``lease_seconds`` (the heartbeat may not have run yet after a pause of the whole process). The
runtime calls it before every write to the store and every step of dlt (``pipeline_run.py``). Clocks: a
store's modification times come from the store's clock and are compared with this worker's; a skew of ``s``
seconds moves a takeover by ``s`` seconds. Keep ``lease_seconds`` well above the skew and above the longest
pause a worker may see (GC, a frozen VM).

Configuration (``[dlt]``, env ``AIRFLOW__DLT__*``): ``holder_wait_seconds`` (default 300) and
``holder_lease_seconds`` (default 120), read by :func:`holder_settings`.

Standalone: imports the standard library only (and ``settings.py``, which reads Airflow's configuration in
:func:`holder_settings`, and ``store_signing.py`` for the key when a store entry is given).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_dlt_provider import settings
from airflow_dlt_provider.exceptions import InvalidArgumentError, PipelineBusyError, PipelineLeaseLostError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_WAIT_SECONDS",
    "HOLDER_KEYS",
    "MAX_RECORD_BYTES",
    "Holding",
    "LeaseRecord",
    "describe_holder",
    "hold_pipeline",
    "holder_from_context",
    "holder_settings",
    "lease_context",
    "lock_path",
    "parse_lease",
    "parse_record",
]

HOLDER_KEYS = ("dag_id", "run_id", "task_id", "map_index", "try_number", "hostname", "pid")
"""What a holder record names (and all a message shows of a record)."""
_INT_KEYS = frozenset({"map_index", "try_number", "pid"})
MAX_RECORD_BYTES = 16 * 1024
"""A lock or lease file larger than this is not read further and counts as unreadable."""
_MAX_FIELD_CHARS = 200
DEFAULT_WAIT_SECONDS = settings.default_seconds("holder_wait_seconds")
DEFAULT_LEASE_SECONDS = settings.default_seconds("holder_lease_seconds")
MIN_LEASE_SECONDS = 3.0
LEASE_PREFIX = "lease."
LEASE_SUFFIX = ".json"
_GENERATION_DIGITS = 12
_LEASE_NAME = re.compile(rf"^lease\.(\d{{{_GENERATION_DIGITS}}})\.json$")
MAX_GENERATION = 10**_GENERATION_DIGITS - 1
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\ud7ff\ue000-\ufffd]")
_LOCAL_PROTOCOLS = frozenset({"file", "local"})


# ---------------------------------------------------------------- configuration


def holder_settings() -> tuple[float, float]:
    """``(wait_seconds, lease_seconds)`` from ``[dlt] holder_wait_seconds`` and ``[dlt] holder_lease_seconds``."""
    return (
        settings.seconds("holder_wait_seconds", minimum=0.0),
        settings.seconds("holder_lease_seconds", minimum=MIN_LEASE_SECONDS),
    )


def holder_from_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The holder record of the running task instance (``context["ti"]``), this host and this process."""
    ti = context["ti"]
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "run_id": getattr(ti, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", -1),
        "try_number": getattr(ti, "try_number", None),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }


# ---------------------------------------------------------------- records (untrusted when read back)


def _clean_field(key: str, value: Any) -> Any:
    if key in _INT_KEYS:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**12:
            return value
        return None
    if value is None:
        return None
    text = _UNPRINTABLE.sub("?", str(value))
    return text if len(text) <= _MAX_FIELD_CHARS else text[: _MAX_FIELD_CHARS - 3] + "..."


def _clean_holder(holder: Any) -> dict[str, Any]:
    if not isinstance(holder, Mapping):
        return {}
    return {key: _clean_field(key, holder.get(key)) for key in HOLDER_KEYS if holder.get(key) is not None}


@dataclass(frozen=True)
class LeaseRecord:
    """A parsed lock or lease file: only what the provider wrote there, cleaned; ``problem`` when unreadable."""

    holder: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    released: bool = False
    beats: int = 0
    problem: str | None = None


def _load_json(raw: bytes | None) -> tuple[Any, str | None]:
    """``(document, None)``, or ``(None, problem)`` for bytes that are not a capped JSON document."""
    if raw is None:
        return None, "it could not be read"
    if len(raw) > MAX_RECORD_BYTES:
        return None, f"it is larger than {MAX_RECORD_BYTES} bytes, so not the provider's"
    try:
        return json.loads(raw.decode("utf-8")), None
    except (ValueError, RecursionError):
        return None, "it is not the provider's JSON"


def parse_record(raw: bytes | None) -> LeaseRecord:
    """Parse a lock file's bytes (or a lease's, signature aside) defensively: JSON only, capped, known fields."""
    document, problem = _load_json(raw)
    if problem is not None:
        return LeaseRecord(problem=problem)
    return _from_document(document)


def _from_document(document: Any) -> LeaseRecord:
    if not isinstance(document, dict) or not isinstance(document.get("holder"), dict):
        return LeaseRecord(problem="it is not the provider's JSON")
    token = document.get("token")
    beats = document.get("beats")
    return LeaseRecord(
        holder=_clean_holder(document["holder"]),
        token=token if isinstance(token, str) and _TOKEN.match(token) else None,
        released=document.get("released") is True,
        beats=beats if isinstance(beats, int) and not isinstance(beats, bool) and 0 <= beats < 10**12 else 0,
    )


def _document(holder: Mapping[str, Any], token: str, beats: int, *, released: bool = False) -> dict[str, Any]:
    return {
        "v": 1,
        "holder": _clean_holder(holder),
        "token": token,
        "beats": beats,
        "released": released,
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _record_bytes(holder: Mapping[str, Any], token: str, beats: int, *, released: bool = False) -> bytes:
    return json.dumps(_document(holder, token, beats, released=released), sort_keys=True).encode("utf-8")


def lease_context(scope: str, generation: int) -> str:
    """What a lease's MAC binds besides its record: the pipeline (``scope``) and the generation (its name)."""
    return json.dumps(["lease", scope, generation])


def parse_lease(
    raw: bytes | None, scope: str, generation: int, keys: Sequence[bytes] | None = None
) -> LeaseRecord:
    """A lease file's record if the workers' key signed it for ``scope`` and ``generation``; otherwise a record
    of an unknown holder (``problem`` set, nothing it claims kept: not even ``released``)."""
    from airflow_dlt_provider.runtime.store_signing import open_record

    document, problem = _load_json(raw)
    if problem is not None:
        return LeaseRecord(problem=problem)
    try:
        record = open_record(lease_context(scope, generation), document, keys)
    except (ValueError, RecursionError) as error:  # UnsignedRecordError, or nesting too deep to check
        return LeaseRecord(
            problem=f"it carries no valid signature of the workers' key ({error}): forged, copied from another "
            "pipeline or generation, written before leases were signed, or signed with a key this worker lacks"
        )
    return _from_document(record)


def describe_holder(holder: Mapping[str, Any]) -> str:
    """``DAG 'd', run 'r', task 't', map index 2, try 1, on worker 'host' (pid 42)`` (``?`` for unknowns)."""

    def text(key: str) -> str:
        value = holder.get(key)
        return "?" if value is None else repr(_clean_field(key, value))

    return (
        f"DAG {text('dag_id')}, run {text('run_id')}, task {text('task_id')}, map index {text('map_index')}, "
        f"try {text('try_number')}, on worker {text('hostname')} (pid {text('pid')})"
    )


def _read_capped_fd(fd: int) -> bytes:
    chunks = []
    left = MAX_RECORD_BYTES + 1
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- the worker-local lock


def lock_path(folder: Path) -> Path:
    """The lock file of ``folder``: ``.<name>.holder.lock`` in the same parent folder."""
    return folder.parent / f".{folder.name}.holder.lock"


class _LocalLock:
    def __init__(self, folder: Path) -> None:
        self.path = lock_path(folder)
        self.fd: int | None = None

    def _open(self) -> int:
        if self.fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
            try:
                fd = os.open(self.path, flags, 0o600)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise InvalidArgumentError(
                        f"the lock file {self.path} is a symbolic link; it must be a regular file (remove the link)"
                    ) from None
                raise
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise InvalidArgumentError(f"the lock file {self.path} is not a regular file; remove it")
            self.fd = fd
        return self.fd

    def try_acquire(self) -> bool:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def record(self, data: bytes) -> None:
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def current(self) -> LeaseRecord:
        """Who holds the lock (what the holder wrote; the lock file is as untrusted as the folder)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return parse_record(None)
        try:
            return parse_record(_read_capped_fd(fd))
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


# ---------------------------------------------------------------- the store lease


def _epoch(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return _epoch(parsed)
    return None


def _modified_at(info: Mapping[str, Any]) -> float | None:
    """The store's modification time of a listed file (fsspec implementations name it differently)."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        if key in info:
            moment = _epoch(info[key])
            if moment is not None:
                return moment
    return None


@dataclass(frozen=True)
class _Listed:
    generation: int
    name: str
    modified_at: float | None
    regular: bool = True


_WARNED_NOT_EXCLUSIVE: set[str] = set()


class _Store:
    """A package store entry: a local folder (``file://``) or an fsspec path (``.fs``, ``.path``)."""

    def __init__(self, entry: Any) -> None:
        fs = getattr(entry, "fs", None)
        if fs is None and isinstance(entry, (str, os.PathLike)):
            self.fs: Any = None
            self.path = os.fspath(entry)
            self.protocol = "file"
        elif fs is not None:
            self.fs = fs
            self.path = str(getattr(entry, "path", entry))
            protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
            self.protocol = str(protocols[0])
            if self.protocol in _LOCAL_PROTOCOLS or _LOCAL_PROTOCOLS & set(protocols):
                self.protocol = "file"
        else:
            raise InvalidArgumentError(
                f"store_entry={entry!r} is not accepted; expected a local path or an fsspec path "
                "(ObjectStoragePath) of the package store"
            )
        self.local = self.protocol == "file"
        self.path = self.path.rstrip("/") or "/"

    def display(self, name: str = "") -> str:
        where = f"{self.path}/{name}" if name else self.path
        return where if self.local else f"{self.protocol}://{where.lstrip('/')}"

    def _join(self, name: str) -> str:
        return f"{self.path}/{name}"

    def listing(self) -> list[_Listed]:
        leases = []
        if self.local:
            try:
                entries = list(os.scandir(self.path))
            except FileNotFoundError:
                return []
            for item in entries:
                match = _LEASE_NAME.match(item.name)
                if match:
                    st = item.stat(follow_symlinks=False)
                    regular = stat.S_ISREG(st.st_mode)
                    leases.append(_Listed(int(match.group(1)), item.name, st.st_mtime, regular))
        else:
            with contextlib.suppress(Exception):
                self.fs.invalidate_cache(self.path)
            try:
                entries = self.fs.ls(self.path, detail=True)
            except FileNotFoundError:
                return []
            for info in entries:
                name = str(info.get("name", "")).rstrip("/").rsplit("/", 1)[-1]
                match = _LEASE_NAME.match(name)
                if match:
                    leases.append(
                        _Listed(
                            int(match.group(1)), name, _modified_at(info), info.get("type") != "directory"
                        )
                    )
        return sorted(leases, key=lambda lease: lease.generation)

    def read(self, name: str) -> bytes | None:
        try:
            if self.local:
                fd = os.open(self._join(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                try:
                    if not stat.S_ISREG(os.fstat(fd).st_mode):
                        return None
                    return _read_capped_fd(fd)
                finally:
                    os.close(fd)
            with self.fs.open(self._join(name), "rb") as handle:
                return bytes(handle.read(MAX_RECORD_BYTES + 1))
        except (OSError, ValueError):
            return None

    def create(self, name: str, data: bytes) -> bool:
        """Create ``name`` holding ``data`` unless it exists; ``False`` when it does (another holder won)."""
        if self.local:
            return self._create_local(name, data)
        target = self._join(name)
        try:
            with self.fs.open(target, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            return False
        except (NotImplementedError, ValueError, TypeError):
            if self.protocol not in _WARNED_NOT_EXCLUSIVE:
                _WARNED_NOT_EXCLUSIVE.add(self.protocol)
                log.warning(
                    "package store %s: the %s:// client offers no exclusive create; the pipeline lease is "
                    "check-then-write there (two workers can both take it in a narrow window); the local lock "
                    "still holds on each worker",
                    self.display(),
                    self.protocol,
                )
            if self.fs.exists(target):
                return False
            with self.fs.open(target, "wb") as handle:
                handle.write(data)
        except OSError as error:  # a precondition failure some clients report as a plain OSError
            if "precondition" in str(error).lower() or "exists" in str(error).lower():
                return False
            raise
        return True

    def _write_part(self, name: str, data: bytes) -> str:
        """``data`` written and synced to a new private file beside ``name``; returns its path."""
        part = self._join(f".{name}.{uuid.uuid4().hex}.part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return part

    def _create_local(self, name: str, data: bytes) -> bool:
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        target = self._join(name)
        part = self._write_part(name, data)
        try:
            os.link(part, target)
        except FileExistsError:
            return False
        except OSError as error:  # a file system without hard links: O_EXCL (readers may see it half written)
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            except FileExistsError:
                return False
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(part)
        return True

    def overwrite(self, name: str, data: bytes) -> None:
        if self.local:
            os.replace(self._write_part(name, data), self._join(name))
            return
        with self.fs.open(self._join(name), "wb") as handle:
            handle.write(data)

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.local:
                os.unlink(self._join(name))
            else:
                self.fs.rm_file(self._join(name))


def _lease_name(generation: int) -> str:
    return f"{LEASE_PREFIX}{generation:0{_GENERATION_DIGITS}d}{LEASE_SUFFIX}"


@dataclass
class _Seen:
    """The current lease as a waiting task last saw it (for the message and for age by observation)."""

    listed: _Listed
    record: LeaseRecord
    digest: str
    first_seen: float  # monotonic


class _Lease:
    def __init__(
        self,
        store: _Store,
        holder: Mapping[str, Any],
        lease_seconds: float,
        scope: str,
        keys: Sequence[bytes],
    ) -> None:
        self.store = store
        self.holder = dict(holder)
        self.lease_seconds = lease_seconds
        self.scope = scope
        self.keys = list(keys)
        self.token = uuid.uuid4().hex
        self.generation: int | None = None
        self.beats = 0
        self.seen: _Seen | None = None
        self.last_renewed = 0.0
        self.lost = threading.Event()
        self.lost_why = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- signed records

    def _bytes(self, generation: int, beats: int, *, released: bool = False) -> bytes:
        from airflow_dlt_provider.runtime.store_signing import sign_record

        document = _document(self.holder, self.token, beats, released=released)
        signed = sign_record(lease_context(self.scope, generation), document, self.keys)
        return json.dumps(signed, sort_keys=True).encode("utf-8")

    def _parse(self, raw: bytes | None, generation: int) -> LeaseRecord:
        return parse_lease(raw, self.scope, generation, self.keys)

    # -- taking it

    def _age(self, listed: _Listed, raw: bytes | None) -> float:
        digest = hashlib.sha256(raw or b"").hexdigest()
        if self.seen is None or self.seen.listed.name != listed.name or self.seen.digest != digest:
            self.seen = _Seen(listed, self._parse(raw, listed.generation), digest, time.monotonic())
        else:
            self.seen.listed = listed
        if listed.modified_at is not None:
            return time.time() - listed.modified_at
        return time.monotonic() - self.seen.first_seen

    def try_acquire(self) -> bool:
        leases = self.store.listing()
        generation = 0
        if leases:
            top = leases[-1]
            raw = self.store.read(top.name) if top.regular else None
            age = self._age(top, raw)
            assert self.seen is not None
            record = self.seen.record if top.regular else LeaseRecord(problem="it is not a regular file")
            self.seen.record = record
            if not (record.released or age > self.lease_seconds):
                return False
            if not record.released:
                log.warning(
                    "package store %s: taking over the lease of %s, not renewed for %.0f s ([dlt] "
                    "holder_lease_seconds = %g)",
                    self.store.display(top.name),
                    describe_holder(record.holder)
                    if record.problem is None
                    else f"an unknown holder ({record.problem})",
                    age,
                    self.lease_seconds,
                )
            generation = top.generation + 1
        if generation > MAX_GENERATION:
            raise InvalidArgumentError(
                f"package store {self.store.display()} holds a lease generation {generation - 1}, the highest "
                f"this provider can follow; remove the {LEASE_PREFIX}*{LEASE_SUFFIX} files there (no task holds "
                "the pipeline when this happens)"
            )
        name = _lease_name(generation)
        if not self.store.create(name, self._bytes(generation, 0)):
            return False
        if not self.store.local and self._parse(self.store.read(name), generation).token != self.token:
            return False  # a check-then-write store where another task wrote last
        self.generation = generation
        self.last_renewed = time.monotonic()
        for older in leases:
            if older.generation < generation:
                with contextlib.suppress(OSError):
                    self.store.delete(older.name)
        return True

    # -- keeping it

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._heartbeat, name="dlt-pipeline-lease", daemon=True)
        self._thread.start()

    def _successor(self) -> str | None:
        """``None`` while the current lease is this task's; otherwise who holds it now (for the messages)."""
        assert self.generation is not None
        leases = self.store.listing()
        if not leases:
            return "nobody: the lease files were removed from the store"
        top = leases[-1]
        record = self._parse(self.store.read(top.name) if top.regular else None, top.generation)
        if top.generation == self.generation and record.token == self.token:
            return None
        if record.problem is not None:
            return f"an unknown holder ({top.name}: {record.problem})"
        return f"{describe_holder(record.holder)} ({top.name})"

    def renew(self) -> None:
        assert self.generation is not None
        with self._lock:
            if self.lost.is_set():
                return
            successor = self._successor()
            if successor is not None:
                self._mark_lost(f"taken over by {successor}")
                return
            self.beats += 1
            self.store.overwrite(_lease_name(self.generation), self._bytes(self.generation, self.beats))
            self.last_renewed = time.monotonic()

    def confirm(self) -> None:
        """Before a write: a lease not renewed for ``lease_seconds`` may have been taken over (the heartbeat
        may not have run, e.g. after a pause of the whole process): renew it now, or count it as lost."""
        if self.lost.is_set() or self.generation is None:
            return
        overdue = time.monotonic() - self.last_renewed
        if overdue <= self.lease_seconds:
            return
        try:
            self.renew()
        except Exception as error:
            self._mark_lost(
                f"not renewed for {overdue:.0f} s ({type(error).__name__}), so possibly taken over by another task"
            )

    def _mark_lost(self, why: str) -> None:
        self.lost_why = why
        self.lost.set()
        log.error(
            "package store %s: this task lost its lease of the pipeline (%s); another task may be using the "
            "pipeline's state now: this task stops before its next write to the store. Raise [dlt] "
            "holder_lease_seconds above the longest pause of a worker",
            self.store.display(),
            why,
        )

    def _heartbeat(self) -> None:
        interval = self.lease_seconds / 3
        while not self._stop.wait(interval):
            try:
                self.renew()
            except Exception as error:  # the store is unreachable for a moment: keep trying until expiry
                overdue = time.monotonic() - self.last_renewed
                log.warning(
                    "package store %s: could not renew the pipeline lease (%s: %s); last renewed %.0f s ago",
                    self.store.display(),
                    type(error).__name__,
                    str(error)[:200],
                    overdue,
                )
                if overdue > self.lease_seconds:
                    self._mark_lost(
                        f"not renewed for {overdue:.0f} s, so possibly taken over by another task"
                    )
            if self.lost.is_set():
                return

    # -- giving it back

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.generation is None:
            return
        with self._lock:
            if self.lost.is_set():
                return
            try:
                if self._successor() is None:
                    self.store.overwrite(
                        _lease_name(self.generation),
                        self._bytes(self.generation, self.beats + 1, released=True),
                    )
            except Exception as error:  # it expires by itself
                log.warning(
                    "package store %s: could not release the pipeline lease (%s); the next task takes it over "
                    "after [dlt] holder_lease_seconds (%g s)",
                    self.store.display(),
                    type(error).__name__,
                    self.lease_seconds,
                )


# ---------------------------------------------------------------- the context manager


@dataclass
class Holding:
    """What :func:`hold_pipeline` yields: the lock file, the lease (if any) and whether it was lost."""

    folder: Path
    lock_file: Path
    lease: str | None
    """Where the lease lives (``<store entry>/lease.<generation>.json``, no credentials), ``None`` without a store."""
    waited_seconds: float
    _lease: _Lease | None = field(default=None, repr=False)

    @property
    def lost(self) -> bool:
        """True once the store lease was taken over by another task (see the module docs)."""
        return self._lease is not None and self._lease.lost.is_set()

    def check(self) -> None:
        """Raise :class:`PipelineLeaseLostError` if the lease was lost; call it before every write to the store
        and every step that changes the pipeline's state (cheap: it reads the store only when the last renewal
        is older than ``lease_seconds``). Thread-safe. A no-op without a store lease."""
        lease = self._lease
        if lease is None:
            return
        lease.confirm()
        if lease.lost.is_set():
            raise PipelineLeaseLostError(
                f"pipeline {self.folder.name!r}: this task lost its package-store lease ({self.lease}) while it "
                f"held the pipeline: {lease.lost_why}. It stops before its next write to the store or step of "
                "dlt, so that two tasks never both change the pipeline's state; Airflow retries it (keep [dlt] "
                "holder_lease_seconds above the longest pause of a worker)"
            )


def _busy(
    folder: Path,
    waited: float,
    wait_seconds: float,
    *,
    local: LeaseRecord | None,
    lease: _Lease | None,
) -> PipelineBusyError:
    name = folder.name
    if local is not None:
        who = (
            describe_holder(local.holder)
            if local.problem is None and local.holder
            else f"another process on this worker (its lock file {lock_path(folder)} names no holder)"
        )
        where = f"the folder {str(folder)!r} on this worker (lock {lock_path(folder).name})"
    else:
        assert lease is not None and lease.seen is not None
        record = lease.seen.record
        who = (
            describe_holder(record.holder)
            if record.problem is None
            else f"an unknown holder (the lease file is not trusted: {record.problem})"
        )
        listed = lease.seen.listed
        age = (
            f"last renewed {max(0.0, time.time() - listed.modified_at):.0f} s ago"
            if listed.modified_at is not None
            else f"unchanged for {time.monotonic() - lease.seen.first_seen:.0f} s"
        )
        where = (
            f"the lease {lease.store.display(listed.name)} in the package store ({age}; taken over once "
            f"not renewed for {lease.lease_seconds:g} s, [dlt] holder_lease_seconds)"
        )
    return PipelineBusyError(
        f"pipeline {name!r} is held by {who}: {where}. Waited {waited:.0f} s of {wait_seconds:g} s ([dlt] "
        "holder_wait_seconds); one task at a time may use a pipeline's state, whatever its pool allows. This "
        "task fails and is retried (check the pool's slots with `airflow-dlt pools sync`)"
    )


@contextlib.contextmanager
def hold_pipeline(
    folder: Path,
    *,
    holder: Mapping[str, Any],
    store_entry: Any = None,
    wait_seconds: float,
    lease_seconds: float,
    poll_seconds: float = 1.0,
    lease_scope: str | None = None,
) -> Iterator[Holding]:
    """Hold the pipeline folder ``folder`` (and its package-store lease) for the ``with`` block.

    :param holder: ``dag_id, run_id, task_id, map_index, try_number, hostname, pid`` of this task instance
        (:func:`holder_from_context`); written to the lock and lease files, shown to tasks that wait.
    :param store_entry: the pipeline's entry in ``[dlt] package_store`` (an ``ObjectStoragePath`` or another
        fsspec path with ``.fs``/``.path``, or a local path), or ``None`` for the local lock only.
    :param wait_seconds: how long to wait for another holder (both the lock and the lease) before
        :class:`PipelineBusyError`.
    :param lease_seconds: a lease not renewed for this long is taken over; renewed every third of it.
    :param poll_seconds: pause between two attempts while waiting.
    :param lease_scope: what the lease's signature binds it to besides its generation (the pipeline's name;
        default: ``folder``'s name), so that a lease copied from another pipeline's entry is not honoured.
    :raises PipelineBusyError: another task held the pipeline for all of ``wait_seconds``.
    :raises InvalidArgumentError: a bad argument, a lock file that is a symlink or not a regular file, or (with
        a store) no key to sign the lease (``store_signing.signing_keys``).
    """
    if not (wait_seconds >= 0):
        raise InvalidArgumentError(f"wait_seconds={wait_seconds!r} is not accepted; expected seconds >= 0")
    if not (lease_seconds >= MIN_LEASE_SECONDS):
        raise InvalidArgumentError(
            f"lease_seconds={lease_seconds!r} is not accepted; expected seconds >= {MIN_LEASE_SECONDS:g} "
            "(renewed every third of it)"
        )
    if not (poll_seconds > 0):
        raise InvalidArgumentError(f"poll_seconds={poll_seconds!r} is not accepted; expected seconds > 0")
    folder = Path(folder)
    keys: list[bytes] = []
    if store_entry is not None:  # before anything is held: no key is a configuration error
        from airflow_dlt_provider.runtime.store_signing import signing_keys

        keys = signing_keys()
    started = time.monotonic()
    deadline = started + wait_seconds
    own = {key: holder.get(key) for key in HOLDER_KEYS}

    def pause() -> bool:
        """Sleep before the next attempt; False when the wait is over."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(poll_seconds, left))
        return True

    local = _LocalLock(folder)
    logged_wait = False
    while not local.try_acquire():
        if not logged_wait:
            log.info(
                "pipeline %r is held by another process on this worker; waiting up to %g s",
                folder.name,
                wait_seconds,
            )
            logged_wait = True
        if not pause():
            record = local.current()
            local.release()
            raise _busy(folder, time.monotonic() - started, wait_seconds, local=record, lease=None)
    lease: _Lease | None = None
    held = False
    try:
        local.record(_record_bytes(own, uuid.uuid4().hex, 0))
        if store_entry is not None:
            lease = _Lease(_Store(store_entry), own, lease_seconds, lease_scope or folder.name, keys)
            logged_wait = False
            while not lease.try_acquire():
                if not logged_wait and lease.seen is not None:
                    log.info(
                        "pipeline %r: its package-store lease is held by %s; waiting up to %g s",
                        folder.name,
                        describe_holder(lease.seen.record.holder),
                        wait_seconds,
                    )
                    logged_wait = True
                if not pause():
                    if lease.seen is None:  # lost every race to create the first lease: nothing read yet
                        _placeholder(lease)
                    raise _busy(folder, time.monotonic() - started, wait_seconds, local=None, lease=lease)
            lease.start_heartbeat()
        holding = Holding(
            folder=folder,
            lock_file=local.path,
            lease=None
            if lease is None or lease.generation is None
            else lease.store.display(_lease_name(lease.generation)),
            waited_seconds=time.monotonic() - started,
            _lease=lease,
        )
        # the two lines bracket the holding: the second comes before the lock and the lease are given back, so
        # two holders' lines never interleave (the scheduler tests read the holding spans from them)
        log.info(
            "pipeline %r: this task holds its folder (waited %.0f s)", folder.name, holding.waited_seconds
        )
        held = True
        yield holding
    finally:
        if held:
            log.info("pipeline %r: this task releases its folder", folder.name)
        try:
            if lease is not None:
                lease.release()
        finally:
            local.release()


def _placeholder(lease: _Lease) -> _Lease:
    lease.seen = _Seen(
        _Listed(-1, "lease", None), LeaseRecord(problem="it changed while being read"), "", time.monotonic()
    )
    return lease
