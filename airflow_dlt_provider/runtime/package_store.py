"""``[dlt] package_store``: where a pipeline's pending load packages, and what dlt recorded while loading
them, wait between tasks that may run on different workers.

``[dlt] working_dir`` is a worker's local scratch folder. With ``[dlt] package_store`` set to an fsspec URL
(``file:///mnt/shared/dlt``, ``gs://bucket/prefix``, ``s3://bucket/prefix``; credentials from the Airflow
connection ``[dlt] package_store_conn_id``), each ``(pipeline, binding)`` (see ``binding.py``) has an entry

``<store>/<pipeline>/<binding key>/``
    ``pending.tar``: the pipeline folder (packages, dlt state and schemas, the package ledger), uploaded
    once dlt has normalized the packages (before the load starts) and after a failed attempt; never dlt's
    trace. Written to ``pending.tar.<random>.tmp`` and renamed, so a reader sees one complete copy.
    ``progress/<load id>.json``: what dlt recorded while loading that package -- jobs whose rows committed
    or that failed, a function destination's delivered batches -- rewritten each time dlt records something
    (``journal.py``), and ``progress/<load id>.schema.json``, the schema update dlt applied, written once.
``<store>/<pipeline>/done/<hash of the task key>.json``
    the done records of ``ledger.py``.

The store is untrusted input. Every archive and record carries an HMAC of the workers' key over its bytes and
its place (``store_signing.py``); one without a valid MAC is ignored with an error in the log, and the task
extracts its own rows. An archive is checked whole before it is unpacked member by member, only regular files and folders of
dlt's pipeline layout and the provider's own JSON records, inside the folder (no links, no ``..``, no
absolute names, a size cap), never dlt's ``trace.pickle``; nothing is unpickled or executed. No record
from the store makes a task skip loading rows unless the destination confirms them (``resume.py``).
Paths come from Airflow's ``ObjectStoragePath`` (fsspec); no storage client is written here.

Only the pipeline's holder writes to an entry (``holder.py``): the runtime uses the store ``guarded`` by the
holder's check, so every write (upload, remove, progress and done records) is refused with
``PipelineLeaseLostError`` once the task's lease was taken over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import re
import shutil
import tarfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_dlt_provider import _compat, settings
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.runtime.binding import BINDING_FILE
from airflow_dlt_provider.runtime.ledger import EXTRACTING_FILE, LEDGER_FILE
from airflow_dlt_provider.runtime.store_signing import (
    SigningWriter,
    UnsignedRecordError,
    copy_verified,
    open_record,
    sign_record,
)
from airflow_dlt_provider.runtime.workdir import make_owner_only, path_part

log = logging.getLogger(__name__)

ARCHIVE_NAME = "pending.tar"
PROGRESS_FOLDER = "progress"
DONE_FOLDER = "done"
SCHEMA_SUFFIX = ".schema.json"
TMP_SUFFIX = ".tmp"
MAX_MEMBER_BYTES = 8 * 1024**3
MAX_RECORD_BYTES = 4 * 1024 * 1024
_LOAD_ID = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
_DONE_NAME = re.compile(r"^[0-9a-f]{32}\.json$")
# dlt's pipeline folder as the provider keeps it: state, schemas and load packages; nothing else is unpacked
_DLT_TOP = {"state.json", "schemas", "load", "normalize"}
_PROVIDER_FILES = {LEDGER_FILE, EXTRACTING_FILE, BINDING_FILE}


def display_url(url: str) -> str:
    """``url`` without user, password, query or fragment: safe for a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def valid_load_id(name: str) -> bool:
    return bool(_LOAD_ID.match(name))


@dataclass(frozen=True)
class PackageStore:
    """One ``[dlt] package_store`` URL and the connection holding its credentials."""

    url: str
    conn_id: str | None = None
    guard: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    """Called before every write (upload, remove, progress and done records); it raises to refuse the write."""

    def guarded(self, check: Callable[[], None]) -> PackageStore:
        """This store, with ``check`` called before every write: ``Holding.check`` of the pipeline's holder
        (``holder.py``), so a task whose lease was taken over writes nothing more to the store."""
        return dataclasses.replace(self, guard=check)

    def _before_write(self) -> None:
        if self.guard is not None:
            self.guard()

    # ---------------------------------------------------------------- paths

    def _base(self) -> Any:
        return _compat.object_storage_path(self.url, conn_id=self.conn_id)

    def _root(self, pipeline_name: str) -> Any:
        return _inside(self._base(), path_part(pipeline_name))

    def entry(self, pipeline_name: str, binding_key: str) -> Any:
        """The store's folder for one pipeline and binding (an ``ObjectStoragePath``)."""
        return _inside(self._root(pipeline_name), path_part(binding_key))

    def holder_entry(self, pipeline_name: str) -> Any:
        """Where the lease of the pipeline's holder lives (``holder.py``), apart from every binding's entry."""
        return _inside(self._root(pipeline_name), ".holder")

    def where(self, pipeline_name: str, binding_key: str) -> str:
        return f"{display_url(self.url).rstrip('/')}/{path_part(pipeline_name)}/{path_part(binding_key)}"

    # ---------------------------------------------------------------- the archive

    def has_copy(self, pipeline_name: str, binding_key: str) -> bool:
        return bool((self.entry(pipeline_name, binding_key) / ARCHIVE_NAME).exists())

    def download(self, pipeline_name: str, binding_key: str, local: Path, dlt_pipeline_name: str) -> bool:
        """Replace ``local`` by the store's copy of the pipeline folder; ``False`` when there is none.

        The copy's MAC is checked before anything is unpacked; a copy without a valid one is ignored (logged,
        ``local`` left as it is). A copy that cannot be unpacked completely (truncated, refused member)
        leaves no folder behind.
        """
        archive = self.entry(pipeline_name, binding_key) / ARCHIVE_NAME
        if not archive.exists():
            return False
        started = time.monotonic()
        local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        verified = local.parent / f".{local.name}.{uuid.uuid4().hex}.download"
        try:
            try:
                with archive.open("rb") as source, open(verified, "wb") as target:
                    copy_verified(source, target, _context("archive", pipeline_name, binding_key))
            except UnsignedRecordError as refused:
                log.error(
                    "package store: ignored %s/%s: %s (forged, damaged, written by a provider before 0.2, or "
                    "signed with another key: every worker needs the same [dlt] package_store_key or "
                    "[core] fernet_key); this task extracts its own rows instead",
                    self.where(pipeline_name, binding_key),
                    ARCHIVE_NAME,
                    refused,
                )
                return False
            self._unpack_into(verified, local, dlt_pipeline_name, self.where(pipeline_name, binding_key))
        finally:
            verified.unlink(missing_ok=True)
        log.info(
            "package store: restored the pipeline folder of %r from %s (%.2f s)",
            pipeline_name,
            self.where(pipeline_name, binding_key),
            time.monotonic() - started,
        )
        return True

    @staticmethod
    def _unpack_into(archive: Path, local: Path, dlt_pipeline_name: str, where: str) -> None:
        if local.exists():
            shutil.rmtree(local)
        local.mkdir(parents=True, mode=0o700)
        try:
            with tarfile.open(archive, mode="r:") as tar:
                skipped = _unpack(tar, local, dlt_pipeline_name)
        except BaseException:
            shutil.rmtree(local, ignore_errors=True)
            raise
        make_owner_only(local)
        if skipped:
            log.warning(
                "package store: ignored %d member(s) of %s that are not part of dlt's pipeline folder: %s",
                len(skipped),
                where,
                ", ".join(repr(name[:120]) for name in skipped[:10]),
            )

    def upload(self, pipeline_name: str, binding_key: str, local: Path) -> None:
        """Archive ``local`` into the store: to a ``*.tmp`` name first, then renamed over the previous copy."""
        self._before_write()
        started = time.monotonic()
        folder = self.entry(pipeline_name, binding_key)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{ARCHIVE_NAME}.{uuid.uuid4().hex}{TMP_SUFFIX}"
        with tmp.open("wb") as handle:
            signed = SigningWriter(handle, _context("archive", pipeline_name, binding_key))
            with tarfile.open(fileobj=signed, mode="w|") as tar:  # type: ignore[call-overload]
                _pack(tar, local, pipeline_name)
            signed.finish()
        self._before_write()  # again before the copy replaces the previous one: an upload can take a while
        tmp.rename(folder / ARCHIVE_NAME)
        self._remove_leftovers(folder)
        log.info(
            "package store: kept the pipeline folder of %r in %s (%.2f s)",
            pipeline_name,
            self.where(pipeline_name, binding_key),
            time.monotonic() - started,
        )

    def remove(self, pipeline_name: str, binding_key: str) -> None:
        """Remove the entry of a pipeline and binding (everything in it was loaded and recorded)."""
        self._before_write()
        folder = self.entry(pipeline_name, binding_key)
        if not folder.exists():
            return
        archive = folder / ARCHIVE_NAME
        if archive.exists():
            archive.unlink()
        self.clear_progress(pipeline_name, binding_key)
        self._remove_leftovers(folder)
        with contextlib.suppress(OSError):  # object stores have no folders; a local one may hold other files
            folder.rmdir()
        log.info("package store: removed %s (nothing left to load)", self.where(pipeline_name, binding_key))

    def clear_progress(self, pipeline_name: str, binding_key: str) -> None:
        """Remove the entry's progress records (no package of the entry is pending any more)."""
        self._before_write()
        progress = _inside(self.entry(pipeline_name, binding_key), PROGRESS_FOLDER)
        if not progress.exists():
            return
        for child in progress.iterdir():
            if _is_record_name(child.name, valid_load_id):
                child.unlink()
        with contextlib.suppress(OSError):
            progress.rmdir()

    @staticmethod
    def _remove_leftovers(folder: Any) -> None:
        for child in folder.iterdir():
            if child.name.endswith(TMP_SUFFIX):  # an upload that a killed worker never finished
                child.unlink()

    def _put_signed(self, folder: Any, name: str, where: tuple[str, ...], record: Any) -> None:
        """Write ``record`` as ``folder/name``, signed for its kind and place ``where`` (see ``_context``)."""
        self._before_write()
        _put_json(folder, name, sign_record(_context(*where), record))

    # ---------------------------------------------------------------- progress of packages being loaded

    def put_progress(
        self, pipeline_name: str, binding_key: str, load_id: str, progress: dict[str, Any]
    ) -> None:
        folder = _inside(self.entry(pipeline_name, binding_key), PROGRESS_FOLDER)
        self._put_signed(
            folder, f"{load_id}.json", ("progress", pipeline_name, binding_key, load_id), progress
        )

    def put_schema_update(self, pipeline_name: str, binding_key: str, load_id: str, applied: Any) -> None:
        """The schema update dlt applied for a package: written once, apart from the progress records."""
        folder = _inside(self.entry(pipeline_name, binding_key), PROGRESS_FOLDER)
        self._put_signed(
            folder, f"{load_id}{SCHEMA_SUFFIX}", ("schema", pipeline_name, binding_key, load_id), applied
        )

    def read_progress(self, pipeline_name: str, binding_key: str) -> dict[str, dict[str, Any]]:
        """``{load_id: progress}`` of the entry (untrusted: names, sizes and MACs checked, JSON only)."""
        folder = _inside(self.entry(pipeline_name, binding_key), PROGRESS_FOLDER)
        if not folder.exists():
            return {}
        found: dict[str, dict[str, Any]] = {}
        schema_updates: dict[str, Any] = {}
        for child in folder.iterdir():
            if child.name.endswith(SCHEMA_SUFFIX):
                load_id = child.name.removesuffix(SCHEMA_SUFFIX)
                if valid_load_id(load_id):
                    context = _context("schema", pipeline_name, binding_key, load_id)
                    applied = _opened(context, _get_json(child), child.name)
                    if isinstance(applied, dict):
                        schema_updates[load_id] = applied
                continue
            load_id = child.name.removesuffix(".json")
            if not child.name.endswith(".json") or not valid_load_id(load_id):
                continue
            context = _context("progress", pipeline_name, binding_key, load_id)
            value = _opened(context, _get_json(child), child.name)
            if isinstance(value, dict):
                found[load_id] = value
        for load_id, applied in schema_updates.items():
            found.setdefault(load_id, {})["applied_schema_update"] = applied
        return found

    # ---------------------------------------------------------------- done records

    def put_done(self, pipeline_name: str, name: str, record: dict[str, Any]) -> None:
        self._put_signed(
            _inside(self._root(pipeline_name), DONE_FOLDER), name, ("done", pipeline_name, name), record
        )

    def get_done(self, pipeline_name: str, name: str) -> Any:
        if not _DONE_NAME.match(name):
            return None
        path = _inside(self._root(pipeline_name), DONE_FOLDER) / name
        if not path.exists():
            return None
        return _opened(_context("done", pipeline_name, name), _get_json(path), f"{DONE_FOLDER}/{name}")

    def expire_done(self, pipeline_name: str, days: float) -> None:
        self._before_write()
        folder = _inside(self._root(pipeline_name), DONE_FOLDER)
        if not folder.exists():
            return
        limit = time.time() - days * 86400
        for child in folder.iterdir():
            if not _DONE_NAME.match(child.name):  # never a file the provider did not name
                continue
            with contextlib.suppress(Exception):
                record = _opened(_context("done", pipeline_name, child.name), _get_json(child), None)
                written = record.get("written_at_epoch") if isinstance(record, dict) else None
                if isinstance(written, (int, float)) and written < limit:  # unverified files stay
                    child.unlink()


class StoreLinkError(ValueError):
    """A folder inside the store is a symbolic link: the provider never follows one (it could point anywhere
    on the worker, and the provider writes and removes files in these folders)."""


def _inside(folder: Any, name: str) -> Any:
    """``folder / name``, refused when it is a symbolic link in a local (``file://``) store."""
    path = folder / name
    local = _local_path(path)
    if local is not None and os.path.islink(local):
        raise StoreLinkError(
            f"package store: {local} is a symbolic link; the provider never follows links inside the store "
            "(remove it; only the store's own root may be a link)"
        )
    return path


def _local_path(path: Any) -> str | None:
    fs = getattr(path, "fs", None)
    protocols = getattr(fs, "protocol", ()) if fs is not None else ()
    protocols = protocols if isinstance(protocols, (tuple, list)) else (protocols,)
    if not {"file", "local"} & set(protocols):
        return None
    return str(getattr(path, "path", path))


def _is_record_name(name: str, valid: Any) -> bool:
    if name.endswith(SCHEMA_SUFFIX):
        return bool(valid(name.removesuffix(SCHEMA_SUFFIX)))
    return (name.endswith(".json") and valid(name.removesuffix(".json"))) or name.endswith(TMP_SUFFIX)


def _context(*where: str) -> str:
    """What a MAC is bound to besides the bytes: the kind of record and its place (unambiguous for any name)."""
    return json.dumps(list(where))


def _opened(context: str, stored: Any, name: str | None) -> Any:
    """The record inside a signed one, or ``None`` (logged when ``name`` is given) when its MAC is not valid."""
    if stored is None:
        return None
    try:
        return open_record(context, stored)
    except UnsignedRecordError as refused:
        if name is not None:
            log.error("package store: ignored the record %s: %s", name, refused)
        return None


def _put_json(folder: Any, name: str, value: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{uuid.uuid4().hex}{TMP_SUFFIX}"
    with tmp.open("wb") as handle:
        handle.write(json.dumps(value, sort_keys=True).encode("utf-8"))
    tmp.rename(folder / name)


def _get_json(path: Any) -> Any:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None
    if len(data) > MAX_RECORD_BYTES:
        log.warning("package store: ignored %s (larger than %d bytes)", path, MAX_RECORD_BYTES)
        return None
    try:
        return json.loads(data)
    except ValueError:
        log.warning("package store: ignored %s (not JSON)", path)
        return None


# ---------------------------------------------------------------- what an archive may hold


def allowed_member(name: str, dlt_pipeline_name: str) -> bool:
    """Whether an archive member belongs to the pipeline folder the provider keeps (see the module doc)."""
    path = PurePosixPath(name)
    parts = path.parts
    if not parts or path.is_absolute() or any(p in ("", ".", "..") or "\\" in p for p in parts):
        return False
    if len(parts) == 1:
        return parts[0] in _PROVIDER_FILES or parts[0] == dlt_pipeline_name
    if parts[0] != dlt_pipeline_name:
        return False
    return parts[1] in _DLT_TOP


def _unpack(tar: tarfile.TarFile, local: Path, dlt_pipeline_name: str) -> list[str]:
    """Unpack regular files and folders the layout allows into ``local``; returns the names skipped."""
    skipped: list[str] = []
    root = local.resolve()
    for member in tar:
        if not allowed_member(member.name, dlt_pipeline_name) or not (member.isfile() or member.isdir()):
            skipped.append(member.name)
            continue
        target = (local / member.name).resolve()
        if target == root or not target.is_relative_to(root):
            skipped.append(member.name)
            continue
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            continue
        if member.size > MAX_MEMBER_BYTES:
            raise ValueError(f"archive member {member.name!r} is larger than {MAX_MEMBER_BYTES} bytes")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        source = tar.extractfile(member)
        if source is None:
            skipped.append(member.name)
            continue
        with source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
    return skipped


def _pack(tar: tarfile.TarFile, local: Path, dlt_pipeline_name: str) -> None:
    """What ``download`` would unpack, no more: dlt's layout and the provider's records, plain files and
    folders, never dlt's trace; the texts dlt keeps of failed jobs (``*.exception``, the messages of its
    pending transitions) pass the secrets masker first (a driver's message may carry a connection string)."""
    from airflow_dlt_provider import _dlt_internals

    trace = _dlt_internals.trace_file_name()
    for path in sorted(local.rglob("*")):
        name = path.relative_to(local).as_posix()
        if path.is_symlink() or path.name == trace or not allowed_member(name, dlt_pipeline_name):
            continue
        if path.is_dir():
            tar.add(path, arcname=name, recursive=False)
        elif path.is_file():
            info = tar.gettarinfo(path, arcname=name)
            if path.name.endswith(".exception") or path.parent.name == ".pending_transitions":
                data = str(_compat.redact(path.read_text(encoding="utf-8", errors="replace"))).encode("utf-8")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                with path.open("rb") as handle:
                    tar.addfile(info, handle)


def configured_store() -> PackageStore | None:
    """The store of ``[dlt] package_store`` (env ``AIRFLOW__DLT__PACKAGE_STORE``), or ``None`` when unset."""
    url = settings.option("package_store") or ""
    if not url:
        return None
    scheme = urlsplit(url).scheme
    if not scheme or len(scheme) == 1:  # no scheme, or a Windows drive letter
        raise InvalidArgumentError(
            f"[dlt] package_store={display_url(url)!r} is not an fsspec URL; accepted: a URL with a scheme, "
            "e.g. file:///mnt/shared/dlt, gs://bucket/prefix, s3://bucket/prefix"
        )
    conn_id = settings.option("package_store_conn_id")
    return PackageStore(url=url, conn_id=conn_id)
