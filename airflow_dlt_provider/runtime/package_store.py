"""``[dlt] package_store``: where a pipeline's pending load packages and state wait between tasks.

``[dlt] working_dir`` is a worker's local scratch folder. With ``[dlt] package_store`` set to an fsspec URL
(``file:///mnt/shared/dlt``, ``gs://bucket/prefix``, ``s3://bucket/prefix``; credentials from the Airflow
connection ``[dlt] package_store_conn_id``), the pipeline folder a task leaves behind after a failure
(``<working_dir>/.pipelines/<pipeline>``, see ``workdir.pipeline_working_dir``) is copied to
``<package_store>/<pipeline>/pending.tar``, and the next task of the pipeline -- a retry or a later run, on
any worker -- starts from that copy. Only tasks that hold the pipeline's own one-slot pool use the store, so
one task at a time reads or writes a pipeline's entry.

- **Before an attempt** the local pipeline folder is replaced by the store's copy (when there is one).
- **Before the load**, once dlt has normalized the packages, the folder is copied to the store: a worker
  killed during the load (SIGKILL, an evicted pod) uploads nothing afterwards, and this copy (with the state
  dlt advanced during the extract) is what the next task, on any worker, finishes. Load jobs that had
  committed before the kill are recognised in the destination (``resume.mark_committed_jobs``).
- **After a failed attempt** the folder (owner-only, without dlt's trace) is archived to
  ``pending.tar.<random>.tmp`` and then renamed to ``pending.tar``: a worker killed while uploading leaves
  a ``*.tmp`` entry that nobody reads, and the previous complete copy stays in place. The next complete
  upload removes such leftovers.
- **After a success** the entry is removed, unless it still records packages loaded on behalf of a task
  that has not reported them yet (see ``resume.py``): then the small remainder is uploaded instead.

The whole pipeline folder is one archive, so its packages, its state and the provider's ledgers
(``resume.ROWS_FILE``, ``resume.OWNERS_FILE``) always travel together, each upload atomic as a whole. Paths
come from Airflow's ``ObjectStoragePath`` (fsspec); no storage client is written here.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_dlt_provider import _compat, settings
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.runtime.workdir import make_owner_only, path_part

log = logging.getLogger("airflow_dlt_provider.package_store")

ARCHIVE_NAME = "pending.tar"
TMP_SUFFIX = ".tmp"


def display_url(url: str) -> str:
    """``url`` without user, password, query or fragment: safe for a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class PackageStore:
    """One ``[dlt] package_store`` URL and the connection holding its credentials."""

    url: str
    conn_id: str | None = None

    def entry(self, pipeline_name: str) -> Any:
        """The store's folder for ``pipeline_name`` (an ``ObjectStoragePath``), one level below the URL."""
        return _compat.object_storage_path(self.url, conn_id=self.conn_id) / path_part(pipeline_name)

    def where(self, pipeline_name: str) -> str:
        return f"{display_url(self.url).rstrip('/')}/{path_part(pipeline_name)}/{ARCHIVE_NAME}"

    def has_copy(self, pipeline_name: str) -> bool:
        """Whether the store holds a complete copy of the pipeline's folder."""
        return bool((self.entry(pipeline_name) / ARCHIVE_NAME).exists())

    def download(self, pipeline_name: str, local: Path) -> bool:
        """Replace ``local`` by the store's copy of the pipeline folder; ``False`` when there is none."""
        archive = self.entry(pipeline_name) / ARCHIVE_NAME
        if not archive.exists():
            return False
        started = time.monotonic()
        if local.exists():
            shutil.rmtree(local)
        local.mkdir(parents=True, mode=0o700)
        with archive.open("rb") as handle, tarfile.open(fileobj=handle, mode="r|") as tar:
            tar.extractall(local, filter="data")  # refuses absolute paths, links out, ``..``
        make_owner_only(local)
        log.info(
            "package store: restored the pipeline folder of %r from %s (%.2f s)",
            pipeline_name,
            self.where(pipeline_name),
            time.monotonic() - started,
        )
        return True

    def upload(self, pipeline_name: str, local: Path) -> None:
        """Archive ``local`` into the store: to a ``*.tmp`` name first, then renamed over the previous copy."""
        started = time.monotonic()
        folder = self.entry(pipeline_name)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{ARCHIVE_NAME}.{uuid.uuid4().hex}{TMP_SUFFIX}"
        with tmp.open("wb") as handle, tarfile.open(fileobj=handle, mode="w|") as tar:
            for child in sorted(local.iterdir()):
                tar.add(child, arcname=child.name, filter=_without_excluded)
        tmp.rename(folder / ARCHIVE_NAME)
        self._remove_leftovers(folder)
        log.info(
            "package store: kept the pipeline folder of %r in %s for the next task of the pipeline (%.2f s)",
            pipeline_name,
            self.where(pipeline_name),
            time.monotonic() - started,
        )

    def remove(self, pipeline_name: str) -> None:
        """Remove the pipeline's entry (after everything in it was loaded and reported)."""
        folder = self.entry(pipeline_name)
        if not folder.exists():
            return
        archive = folder / ARCHIVE_NAME
        if archive.exists():
            archive.unlink()
        self._remove_leftovers(folder)
        with contextlib.suppress(OSError):  # object stores have no folders; a local one may hold other files
            folder.rmdir()
        log.info("package store: removed %s (nothing left to load)", self.where(pipeline_name))

    @staticmethod
    def _remove_leftovers(folder: Any) -> None:
        for child in folder.iterdir():
            if child.name.endswith(TMP_SUFFIX):  # an upload that a killed worker never finished
                child.unlink()


def _without_excluded(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Plain files and folders only, never dlt's trace (it holds exception texts)."""
    from airflow_dlt_provider import _dlt_internals

    if Path(info.name).name == _dlt_internals.trace_file_name() or not (info.isfile() or info.isdir()):
        return None
    return info


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
