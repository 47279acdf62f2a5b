"""The name rules: pipeline names from user input, the names derived from them, and task ids. Pure: imports
nothing heavy (pool names are ``pools/names.py``'s, which imports nothing at all).

Every mode names its tasks and pipelines here: a task id is its component's first resource made safe and
unique (:class:`TaskIdAllocator`); a component with a pipeline of its own (``parallel-isolated`` tasks,
``mapped`` components) gets ``<pipeline_name>__<id>`` (:func:`derived_pipeline_name`).

A pipeline name becomes a dlt working folder, a pool ``dlt_<name>`` (Airflow: at most 256 characters), a
DuckDB file and, for isolated components, ``<name>__<task>``. It is checked once, at parse time, against what
dlt accepts (a file name component: ``_dlt_internals.FILE_NAME_FORBIDDEN_CHARS``, whose contract test
compares it with dlt's own check) and a length that leaves room for the prefix and suffixes.
"""

from __future__ import annotations

import hashlib

from airflow_dlt_provider import _dlt_internals
from airflow_dlt_provider.exceptions import InvalidArgumentError

MAX_PIPELINE_NAME_BYTES = 100
"""Longest ``pipeline_name`` of a ``DltTaskGroup``, in UTF-8 bytes (100 ASCII characters): room is left for
the ``__<task>`` of isolated components."""

MAX_DERIVED_PIPELINE_NAME_BYTES = 200
"""Longest pipeline name of one task (``DltRunOperator``); ``<pipeline_name>__<task>`` is cut to it with a
stable hash. A folder name (255 bytes) and the pool ``dlt_<name>`` (256 characters) both fit."""

HASH_LENGTH = 8

MAX_TASK_ID_LENGTH = 250
"""Airflow's limit for a task id, the group prefix (``<group_id>.``) included."""

# Sets, not regexes, here and in uris.py: compiling a regex costs ~0.1 ms on every DAG parse.
_SAFE_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MIN_ID_ROOM = HASH_LENGTH + 2

# what dlt refuses in a pipeline name: a mirror of dlt's own check, kept with the other dlt internals
_FORBIDDEN_PIPELINE_CHARS = _dlt_internals.FILE_NAME_FORBIDDEN_CHARS
_RESERVED_FILE_NAMES = _dlt_internals.RESERVED_FILE_NAMES


def pipeline_name_rule(max_bytes: int = MAX_PIPELINE_NAME_BYTES) -> str:
    return (
        f"a non-empty string of at most {max_bytes} bytes in UTF-8 that dlt accepts as a folder name: "
        'no / \\ : * ? " < > | . % { } or control characters, no leading or trailing space, not a reserved '
        "device name such as CON or NUL; letters of any script, digits, spaces, _ and - are fine"
    )


def short_hash(value: str, length: int = HASH_LENGTH) -> str:
    """A stable short hash of ``value`` (same input, same suffix, on every machine and run)."""
    return hashlib.sha1(value.encode("utf-8")).hexdigest()[:length]


def pipeline_name_problem(name: object, max_bytes: int = MAX_PIPELINE_NAME_BYTES) -> str | None:
    """Why ``name`` cannot be a pipeline name, or ``None`` when it can."""
    if not isinstance(name, str) or not name:
        return "it is not a non-empty string"
    size = len(name.encode("utf-8"))
    if size > max_bytes:
        return f"it is {size} bytes long in UTF-8"
    bad = sorted(set(name) & _FORBIDDEN_PIPELINE_CHARS)
    if bad:
        return f"it contains {', '.join(repr(c) for c in bad)}"
    if name != name.strip():
        return "it starts or ends with whitespace"
    if name.split(".")[0].upper() in _RESERVED_FILE_NAMES:
        return "it is a reserved device name"
    return None


def check_pipeline_name(name: object, *, max_bytes: int = MAX_PIPELINE_NAME_BYTES) -> str:
    """``name`` if dlt and Airflow can use it as a pipeline name, else :class:`InvalidArgumentError`."""
    problem = pipeline_name_problem(name, max_bytes)
    if problem is not None:
        shown = repr(name) if not isinstance(name, str) or len(name) <= 120 else repr(name[:120] + "...")
        raise InvalidArgumentError(
            f"pipeline_name={shown} is not accepted ({problem}); expected {pipeline_name_rule(max_bytes)}"
        )
    return str(name)


def _cut_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def derived_pipeline_name(pipeline_name: str, task_id: str) -> str:
    """``<pipeline_name>__<task>``, cut with a stable hash to :data:`MAX_DERIVED_PIPELINE_NAME_BYTES`.

    Task ids may hold ``.``, which dlt refuses in a pipeline name: it becomes ``_`` plus the hash.
    """
    name = f"{pipeline_name}__{task_id}"
    if len(name.encode("utf-8")) <= MAX_DERIVED_PIPELINE_NAME_BYTES and "." not in task_id:
        return name
    suffix = f"_{short_hash(name)}"
    safe = f"{pipeline_name}__{task_id.replace('.', '_')}"
    return _cut_utf8(safe, MAX_DERIVED_PIPELINE_NAME_BYTES - len(suffix)) + suffix


# ---------------------------------------------------------------- task ids


def sanitize_id(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9_.-]`` replaced by ``_``."""
    return "".join(char if char in _SAFE_ID_CHARS else "_" for char in name)


def fit_name(name: str, max_length: int) -> str:
    """A safe id for ``name`` of at most ``max_length`` characters.

    A name that is already safe and short enough is kept as it is. Otherwise it is sanitised, cut and given
    the suffix ``_<hash of the original name>``, so two names that sanitise or cut to the same text still
    get different ids, deterministically.
    """
    safe = sanitize_id(name)
    if safe == name and 0 < len(name) <= max_length:
        return name
    suffix = f"_{short_hash(name)}"
    return safe[: max_length - len(suffix)] + suffix


class TaskIdAllocator:
    """Hands out unique, safe task ids of at most ``250 - len(prefix)`` characters."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.max_length = MAX_TASK_ID_LENGTH - len(prefix)
        if self.max_length < _MIN_ID_ROOM + 1:
            raise InvalidArgumentError(
                f"group id prefix {prefix!r} is {len(prefix)} characters long; task ids may have at most "
                f"{MAX_TASK_ID_LENGTH} characters including it, which leaves no room for the task names"
            )
        self.used: set[str] = set()

    def allocate(self, name: str) -> str:
        candidate = fit_name(name, self.max_length)
        counter = 1
        while candidate in self.used:
            counter += 1
            tail = f"-{counter}"
            candidate = fit_name(name, self.max_length - len(tail)) + tail
        self.used.add(candidate)
        return candidate

    def allocate_own_pipeline(self, name: str, pipeline_name: str) -> tuple[str, str]:
        """An id for ``name`` and the pipeline of its own, ``<pipeline_name>__<id>`` (isolated and mapped)."""
        task_id = self.allocate(name)
        return task_id, derived_pipeline_name(pipeline_name, task_id)
