"""Where a task keeps its files on a worker, and when they are removed.

``<working_dir>/<dag>/<task>/<run>[/map_index=N]`` is private to one task instance: dlt's pipeline folder
lives there during the run. Ids a trigger controls (DAG, task and run ids, map indexes) reach the file
system only through :func:`path_part`: every part is a plain folder name, never ``.``, ``..``, empty or
containing a separator, and two different ids never map to the same folder. The joined path is checked to
resolve strictly inside the base folder, whatever the id (``.``, ``..``, ``/``, unicode, 300 characters).

- after a success the folder is removed, and so are the kept folders of earlier runs of the same task that
  hold nothing to load any more (when the task holds the pipeline's own pool, so none of them is in use);
- after a failure the folder is kept for the retry (see ``resume.py``), owner-only (``0700``/``0600``), and
  without dlt's ``trace.pickle``, which can hold exception texts (and so secrets a source put in them).

A task that holds its pipeline's own one-slot pool (``dlt_<pipeline_name>``) does not use a private folder:
it runs in the pipeline's folder for its binding ``<working_dir>/.pipelines/<pipeline>/<binding>``
(:func:`pipeline_working_dir`, ``binding.py``).
The pool guarantees that one task of the pipeline uses it at a time, across DAG runs and DAGs, so what a
failed task leaves there (pending load packages, the package ledger of ``ledger.py``) belongs to
the pipeline and the next task of the pipeline finishes it, whichever DAG run it belongs to. The leading
dot keeps that folder apart from every task folder: :func:`path_part` never makes a name that starts with
one, so no DAG id can reach it. With ``[dlt] package_store`` set, the folder travels between workers
through the store (``package_store.py``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_dlt_provider import _compat, settings

log = logging.getLogger(__name__)

_OWNER_ONLY_DIR = 0o700
_OWNER_ONLY_FILE = 0o600
MAX_PATH_PART_LENGTH = 120
HASH_LENGTH = 8
PIPELINES_FOLDER = ".pipelines"  # never a path_part() result: no DAG id can name it
DONE_FOLDER = ".done"
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9_.=+-]")


def path_part(value: object) -> str:
    """A folder or file name for ``value`` that stays one level below its parent, whatever ``value`` is.

    ASCII letters, digits and ``_.=+-`` are kept; a value that had to be changed (other characters, a
    leading dot, more than :data:`MAX_PATH_PART_LENGTH` characters, empty) gets ``_<hash of the value>``,
    so two distinct values never share a name: ``pïpé_日本`` and ``pópá_中国`` stay apart.
    """
    text = str(value)
    safe = _UNSAFE_PATH_CHARS.sub("_", text)
    if safe == text and text and not text.startswith(".") and len(text) <= MAX_PATH_PART_LENGTH:
        return text
    cut = safe.lstrip(".")[: MAX_PATH_PART_LENGTH - HASH_LENGTH - 1]
    return f"{cut}_{hashlib.sha1(text.encode('utf-8')).hexdigest()[:HASH_LENGTH]}"


def join_inside(base: Path, *parts: object) -> Path:
    """``base`` joined with :func:`path_part` of each part, checked to resolve strictly inside ``base``."""
    path = base.joinpath(*(path_part(p) for p in parts))
    ensure_inside(base, path)
    return path


def ensure_inside(base: Path, path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` resolves to a folder strictly below ``base``."""
    resolved_base = base.resolve()
    resolved = path.resolve()
    if resolved == resolved_base or not resolved.is_relative_to(resolved_base):
        raise ValueError(f"refusing path {str(path)!r}: it is not strictly inside {str(base)!r}")


def dlt_base_dir() -> Path:
    """Base folder of the provider's files on a worker: ``[dlt] base_dir`` or ``$AIRFLOW_HOME/dlt``."""
    configured = settings.option("base_dir")
    return Path(configured).expanduser() if configured else Path(_compat.airflow_home()) / "dlt"


def working_dir_base() -> Path:
    """Where task working directories live: ``[dlt] working_dir`` (e.g. a persistent volume)."""
    configured = settings.option("working_dir")
    return Path(configured).expanduser() if configured else dlt_base_dir() / "work"


def task_working_dir(context: Mapping[str, Any]) -> Path:
    """A folder private to one task instance that survives its retries on the same worker."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    parts: list[Any] = [ti.dag_id, ti.task_id, context["run_id"]]
    if map_index is not None and map_index >= 0:
        parts.append(f"map_index={int(map_index)}")
    return join_inside(working_dir_base(), *parts)


def pipeline_working_dir(pipeline_name: str, binding_key: str) -> Path:
    """The pipeline's folder for one binding (``binding.py``), shared by its tasks one at a time under its
    one-slot pool."""
    path = working_dir_base() / PIPELINES_FOLDER / path_part(pipeline_name) / path_part(binding_key)
    ensure_inside(working_dir_base(), path)
    return path


def done_dir(pipeline_name: str) -> Path:
    """Where this worker keeps the done records of the pipeline's task instances (``ledger.py``)."""
    path = working_dir_base() / DONE_FOLDER / path_part(pipeline_name)
    ensure_inside(working_dir_base(), path)
    return path


def task_key(context: Mapping[str, Any]) -> str:
    """``<dag>/<task>/<run>/<map index>``: who a load package was extracted for (same across attempts)."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    return f"{ti.dag_id}/{ti.task_id}/{context['run_id']}/{-1 if map_index is None else int(map_index)}"


def default_duckdb_path(pipeline_name: str) -> Path:
    """The embedded default destination: one DuckDB file per pipeline under the dlt base folder.

    Distinct pipeline names never share a file: a name that is not plain ASCII gets a hash suffix.
    """
    return dlt_base_dir() / "duckdb" / f"{path_part(pipeline_name)}.duckdb"


def prepare(working_dir: Path) -> None:
    """Create ``working_dir`` and the folders between it and the base, owner-only."""
    base = working_dir_base()
    base.mkdir(parents=True, exist_ok=True)
    current = base
    for part in working_dir.relative_to(base).parts:
        current = current / part
        current.mkdir(mode=_OWNER_ONLY_DIR, exist_ok=True)


def keep_after_failure(working_dir: Path, pipeline_name: str) -> None:
    """Make what a failed attempt keeps owner-only and drop dlt's trace (it holds exception texts)."""
    if not working_dir.exists():
        return
    from airflow_dlt_provider import _dlt_internals

    (working_dir / pipeline_name / _dlt_internals.trace_file_name()).unlink(missing_ok=True)
    make_owner_only(working_dir)


def make_owner_only(folder: Path) -> None:
    """``0700`` for ``folder`` and the folders below it, ``0600`` for its files (links are not followed)."""
    for root, dirs, files in os.walk(folder):
        os.chmod(root, _OWNER_ONLY_DIR)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, _OWNER_ONLY_FILE)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


def remove(working_dir: Path) -> None:
    """Remove a task's working folder (only ever one strictly inside the base) and its empty parents."""
    base = working_dir_base()
    ensure_inside(base, working_dir)
    shutil.rmtree(working_dir, ignore_errors=True)
    parent = working_dir.parent
    while parent != base and parent.is_relative_to(base):
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break
        parent = parent.parent


def clean_superseded(working_dir: Path, pipeline_name: str) -> list[Path]:
    """Remove kept folders of earlier runs of this task that hold nothing left to load; returns them.

    Call only after a success and while holding the pipeline's one-slot pool: then no other attempt of
    this task uses them. Folders with pending or failed load packages are kept (and named in the log).
    """
    relative = working_dir.relative_to(working_dir_base()).parts
    if len(relative) < 3:
        return []
    task_dir = working_dir_base().joinpath(*relative[:2])
    this_run = task_dir / relative[2]
    if not task_dir.is_dir():  # nothing else was kept: remove() took the empty folders away
        return []
    removed: list[Path] = []
    for run_dir in sorted(p for p in task_dir.iterdir() if p.is_dir() and not p.is_symlink()):
        if run_dir == this_run:
            continue
        if _holds_packages(run_dir, pipeline_name):
            continue
        remove(run_dir)
        removed.append(run_dir)
    if removed:
        log.info("removed %d kept folder(s) of earlier runs with nothing left to load", len(removed))
    return removed


def _holds_packages(run_dir: Path, pipeline_name: str) -> bool:
    from airflow_dlt_provider.runtime.resume import packages_left_in

    mapped = [p for p in run_dir.iterdir() if p.is_dir() and p.name.startswith("map_index=")]
    folders = [run_dir, *mapped]
    if any(
        p.is_dir() and p.name != pipeline_name
        for folder in folders
        for p in folder.iterdir()
        if p not in mapped
    ):
        return True  # another pipeline's folder (the task was renamed): not ours to judge
    left = {folder: packages_left_in(folder, pipeline_name) for folder in folders}
    for folder, load_ids in left.items():
        if load_ids:
            log.warning(
                "kept folder %s of an earlier run of this task holds load package(s) %s that were never "
                "loaded: it stays until that run's task is cleared (its retry loads them)",
                folder,
                ", ".join(load_ids),
            )
    return any(left.values())
