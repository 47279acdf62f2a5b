"""What the package store holds is signed by the workers, so that whoever else can write to it cannot forge it.

A bucket is usually writable by more principals than the Airflow workers' code. Everything the provider
reads back from ``[dlt] package_store`` and acts on -- the archive of a pipeline folder (its load packages
become SQL and rows at the destination), the progress records (a job marked committed is not loaded
again), the done records (a task whose record the destination confirms is not run again) -- carries an
HMAC-SHA256 over its bytes and over where it belongs (pipeline, binding, load id or record name), so a
record cannot be moved to another entry either. A record without a valid MAC is ignored with an error in
the log: the task then extracts and loads its own rows (plain dlt's at-least-once), never someone else's.

The key: ``[dlt] package_store_key`` (a comma-separated list rotates keys: the first signs, every one is
accepted), else Airflow's ``[core] fernet_key`` (the same list semantics; every worker already shares it to
read connections), else ``[api] secret_key`` (Airflow 3) or ``[webserver] secret_key`` (Airflow 2). The
secret itself is never used as the MAC key: each one is first derived with HMAC under a fixed label.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any, BinaryIO

from airflow_dlt_provider import settings
from airflow_dlt_provider.exceptions import InvalidArgumentError

_LABEL = b"airflow-dlt-provider package store v1"
# the archive's last bytes: b"\nADP-MAC1 " + 64 hex digits + b"\n"
TRAILER_PREFIX = b"\nADP-MAC1 "
TRAILER_SIZE = len(TRAILER_PREFIX) + 64 + 1


log = logging.getLogger(__name__)
_WARNED: set[str] = set()


class UnsignedRecordError(ValueError):
    """A record of the store has no valid MAC (forged, damaged, or signed with a key this worker lacks)."""


def signing_keys() -> list[bytes]:
    """The derived keys, the signing one first; an error naming the setting when no source has one."""
    for section, option, raw in settings.package_store_key_sources():
        secrets = [part.strip() for part in raw.split(",") if part.strip()]
        if secrets:
            if option == "secret_key" and option not in _WARNED:
                _WARNED.add(option)
                log.warning(
                    "package store: records are signed with Airflow's [%s] secret_key (neither [dlt] "
                    "package_store_key nor [core] fernet_key is set); set [dlt] package_store_key to a secret "
                    "of its own, the same on every worker",
                    section,
                )
            return [hmac.new(secret.encode("utf-8"), _LABEL, hashlib.sha256).digest() for secret in secrets]
    raise InvalidArgumentError(
        "[dlt] package_store is set, but there is no key to sign what the workers write to it: set "
        f"[dlt] package_store_key (env {settings.env_var('package_store_key')}) to the same secret on every worker, "
        "or Airflow's [core] fernet_key"
    )


def _mac(key: bytes, context: str) -> Any:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(context.encode("utf-8") + b"\0")
    return mac


def _canonical(record: Any) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_record(context: str, record: Any, keys: Sequence[bytes] | None = None) -> dict[str, Any]:
    """``record`` wrapped with its MAC, ready to be written as JSON."""
    mac = _mac((keys or signing_keys())[0], context)
    mac.update(_canonical(record))
    return {"mac": mac.hexdigest(), "record": record}


def open_record(context: str, stored: Any, keys: Sequence[bytes] | None = None) -> Any:
    """The record inside ``stored`` if its MAC is valid for ``context``; raises ``UnsignedRecordError``."""
    if not isinstance(stored, dict) or not isinstance(stored.get("mac"), str) or "record" not in stored:
        raise UnsignedRecordError("not a signed record")
    payload = _canonical(stored["record"])
    for key in keys or signing_keys():
        mac = _mac(key, context)
        mac.update(payload)
        if hmac.compare_digest(mac.hexdigest(), stored["mac"]):
            return stored["record"]
    raise UnsignedRecordError("its MAC does not match any key of this worker")


class SigningWriter:
    """A binary file that signs what is written through it; ``finish`` appends the trailer."""

    def __init__(self, handle: BinaryIO, context: str, keys: Sequence[bytes] | None = None) -> None:
        self._handle = handle
        self._mac = _mac((keys or signing_keys())[0], context)

    def write(self, data: bytes) -> int:
        self._mac.update(data)
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()

    def finish(self) -> None:
        self._handle.write(TRAILER_PREFIX + self._mac.hexdigest().encode("ascii") + b"\n")


def copy_verified(
    source: BinaryIO, target: BinaryIO, context: str, keys: Sequence[bytes] | None = None
) -> None:
    """Copy a signed archive's content (its trailer removed) from ``source`` to ``target``, then check it.

    Raises ``UnsignedRecordError`` when the trailer is missing or its MAC does not match: the caller throws
    ``target`` away before anything reads it.
    """
    macs = [_mac(key, context) for key in keys or signing_keys()]
    held = b""
    while chunk := source.read(1024 * 1024):
        held += chunk
        if len(held) > TRAILER_SIZE:
            ready, held = held[:-TRAILER_SIZE], held[-TRAILER_SIZE:]
            for mac in macs:
                mac.update(ready)
            target.write(ready)
    if len(held) != TRAILER_SIZE or not held.startswith(TRAILER_PREFIX) or not held.endswith(b"\n"):
        raise UnsignedRecordError("it carries no MAC trailer")
    claimed = held[len(TRAILER_PREFIX) : -1].decode("ascii", errors="replace")
    if not any(hmac.compare_digest(mac.hexdigest(), claimed) for mac in macs):
        raise UnsignedRecordError("its MAC does not match any key of this worker")
