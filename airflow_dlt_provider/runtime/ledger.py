"""The provider's own records beside dlt's: who each load package was extracted for, and what a task loaded.

Two kinds of record, both small JSON files, never trusted to skip a load on their own (see ``resume.py``):

- **the package ledger** (``LEDGER_FILE`` in the pipeline folder): per load id, the task instance it was
  extracted for (``owner``), its rows per table (written when dlt's normalize step ends, so before any load
  starts) and the schema guard's verdict on it (``judged``). It travels with the packages (and the package
  store's archive).
- **done records** (one file per task instance): "this task instance's packages are loaded", with the load
  ids, rows and summary facts, written right after the load and before anything that can still fail
  (reporting, alerts, notifiers, asset events, XCom, clean-up). A retry of the same task instance finds it
  and reports instead of extracting again -- once the destination confirms the load ids (``_dlt_loads``).
  They live outside the pipeline folder (``<working_dir>/.done/<pipeline>/``, and in the package store when
  one is set), are keyed by a hash of the task key, and expire after ``DONE_RECORD_DAYS``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_dlt_provider.runtime.summary import is_dlt_table, rows_in_metrics

log = logging.getLogger(__name__)

LEDGER_FILE = "airflow_dlt_ledger.json"
EXTRACTING_FILE = (
    "airflow_dlt_extracting.json"  # who is extracting: packages without a recorded owner are theirs
)
DONE_FOLDER = ".done"
DONE_RECORD_DAYS = 14
MAX_RECORD_BYTES = 4 * 1024 * 1024


# ---------------------------------------------------------------- JSON files


def read_json(path: Path) -> Any:
    """The JSON in ``path`` (``None`` when missing, too large or not JSON): records are untrusted input."""
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            log.warning("ignoring %s: larger than %d bytes", path, MAX_RECORD_BYTES)
            return None
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("could not read %s (%s): ignored", path, type(error).__name__)
        return None


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` atomically (a temporary file renamed over the old one) and durably."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as handle:
        handle.write(json.dumps(value, sort_keys=True))
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    tmp.replace(path)


# ---------------------------------------------------------------- the package ledger


def read_ledger(folder: Path) -> dict[str, dict[str, Any]]:
    """``{load_id: {"owner": task key, "rows": {table: n}, "judged": verdict}}`` (empty when unknown)."""
    value = read_json(folder / LEDGER_FILE)
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}


def update_ledger(folder: Path, load_id: str, **fields: Any) -> None:
    ledger = read_ledger(folder)
    ledger[load_id] = {**ledger.get(load_id, {}), **fields}
    write_json(folder / LEDGER_FILE, ledger)


def forget(folder: Path, load_ids: Iterable[str]) -> None:
    ledger = read_ledger(folder)
    left = {k: v for k, v in ledger.items() if k not in set(load_ids)}
    if left:
        write_json(folder / LEDGER_FILE, left)
    else:
        (folder / LEDGER_FILE).unlink(missing_ok=True)


def record_owner(folder: Path, load_ids: Sequence[str], owner: str, max_tries: Any = None) -> None:
    """Record that ``load_ids`` were extracted for task instance ``owner`` (kept when already recorded), and
    the owner's ``max_tries`` then: a done record written for it later carries it, so a cleared owner (its
    ``max_tries`` changed) does not take the record of its earlier self for its own."""
    ledger = read_ledger(folder)
    new = [load_id for load_id in load_ids if "owner" not in ledger.get(load_id, {})]
    for load_id in new:
        entry: dict[str, Any] = {**ledger.get(load_id, {}), "owner": owner}
        if isinstance(max_tries, int):
            entry["owner_max_tries"] = max_tries
        ledger[load_id] = entry
    if new:
        write_json(folder / LEDGER_FILE, ledger)


def record_rows(folder: Path, normalize_info: Any) -> None:
    """Store rows per table of each package normalized in this attempt (``NormalizeInfo.metrics``)."""
    metrics = getattr(normalize_info, "metrics", None) or {}
    if not metrics:
        return
    ledger = read_ledger(folder)
    for load_id, steps in metrics.items():
        ledger[load_id] = {**ledger.get(load_id, {}), "rows": rows_in_metrics(steps)}
    write_json(folder / LEDGER_FILE, ledger)


def owner_max_tries_of(ledger: Mapping[str, Mapping[str, Any]], load_ids: Sequence[str]) -> int | None:
    """The owner's ``max_tries`` when it extracted ``load_ids`` (the smallest, if a clear came between;
    ``None`` when not recorded)."""
    values = [ledger.get(load_id, {}).get("owner_max_tries") for load_id in load_ids]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return min(values)  # type: ignore[type-var]


def owner_of(ledger: Mapping[str, Mapping[str, Any]], load_id: str) -> str | None:
    owner = ledger.get(load_id, {}).get("owner")
    return owner if isinstance(owner, str) else None


def rows_of(ledger: Mapping[str, Mapping[str, Any]], load_ids: Sequence[str]) -> dict[str, int]:
    """Rows per user table in the packages ``load_ids`` (dlt's own ``_dlt*`` tables left out)."""
    totals: dict[str, int] = {}
    for load_id in load_ids:
        rows = ledger.get(load_id, {}).get("rows")
        if not isinstance(rows, dict):
            log.warning("rows of load package %s were not recorded; the summary leaves them out", load_id)
            continue
        for table, count in rows.items():
            if not is_dlt_table(table) and isinstance(count, int):
                totals[table] = totals.get(table, 0) + count
    return dict(sorted(totals.items()))


# ---------------------------------------------------------------- done records


def done_name(task_key: str) -> str:
    return hashlib.sha256(task_key.encode("utf-8")).hexdigest()[:32] + ".json"


def valid_done_record(value: Any, task_key: str) -> dict[str, Any] | None:
    """A done record read back (locally or from the store), checked field by field; ``None`` if not one."""
    if not isinstance(value, dict) or value.get("task") != task_key:
        return None
    load_ids = value.get("load_ids")
    rows = value.get("rows")
    if not isinstance(load_ids, list) or not all(isinstance(x, str) for x in load_ids):
        return None
    if not isinstance(rows, dict) or not all(isinstance(v, int) for v in rows.values()):
        return None
    failed = value.get("failed", [])
    if not isinstance(failed, list) or not all(isinstance(x, str) for x in failed):
        return None
    return value


def expire_done_records(folder: Path, days: float = DONE_RECORD_DAYS) -> None:
    """Remove done records older than ``days`` (their task instances are long finished)."""
    if not folder.is_dir():
        return
    limit = time.time() - days * 86400
    for path in folder.glob("*.json"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue
