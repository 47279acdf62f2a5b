"""Parse cache: the resource graph of a slow source factory, computed once and reused across DAG parses.

Airflow parses every DAG file every few seconds on every DAG processor. ``DltTaskGroup`` must call a source
factory at parse time to learn its resources and transformers; for a factory that is slow to call (one that
reflects a database, lists an API, ...) that cost is paid on every parse. With ``parse_cache=`` the group
stores the graph the planner needs -- the source name, the selected resource names and which pipe feeds
which transformer (:class:`~airflow_dlt_provider.authoring.plan.SourceGraph`) -- and reuses it while its key holds.

The key is a SHA-256 over:

- the factory's identity, ``module:qualname``;
- a hash of ``source_kwargs`` as given at parse time (templates are hashed as written, never rendered);
- the code's version: the contents of the factory's module file, the dlt version and this package's version.

All of it can be read without running the factory's module or importing dlt (the module file is read as
bytes, dlt's version comes from its installed metadata), so a hit on an import string that was only located
(see ``sources.py``) costs neither: a fresh DAG-processor process parses the file without importing dlt.

Any change gives a new key and the factory is called again (and the entry replaced). What is stored never
holds a kwargs value (only the key, a hash), nor data, nor anything from a connection: the factory is called
with ``source_kwargs`` only, exactly as without the cache, and only resource names are kept.

Stores:

- ``"variable"``: an Airflow Variable ``dlt_parse_cache__<dag_id>__<group_id>`` (JSON), readable by every
  DAG processor of a deployment (the approach of astronomer-cosmos's ``dbt ls`` cache). One Variable read
  per parse (a metadata-DB query on Airflow 2, an execution-API round trip from the DAG processor on 3).
- ``"file"``: ``.dlt_parse_cache/<dag_id>__<group_id>.json`` beside the DAG file (for deployments whose DAG
  folder is writable and shared; otherwise each DAG processor fills its own).

A store that cannot be read or written never fails the parse: the factory is called as without a cache.
A graph that changes without a key change (a database that gained a table) is seen only when the entry is
replaced: delete the Variable or the file (or change a kwarg / the module) to refresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from airflow_dlt_provider.authoring.names import fit_name
from airflow_dlt_provider.authoring.plan import SourceGraph
from airflow_dlt_provider.authoring.sources import SourceSpec

log = logging.getLogger(__name__)


FORMAT_VERSION = 1
VARIABLE_PREFIX = "dlt_parse_cache__"
CACHE_DIR_NAME = ".dlt_parse_cache"
_MAX_VARIABLE_KEY_LENGTH = 250


# ---------------------------------------------------------------- the key


def factory_function(factory: Any) -> Any:
    """The plain function behind a factory (``@dlt.source`` wraps it in a ``DltSourceFactoryWrapper``)."""
    return getattr(factory, "__wrapped__", None) or factory


def factory_identity(spec: SourceSpec) -> str:
    """``module:qualname`` of the factory (the same for a located import string and the imported function)."""
    if spec.located is not None and spec.import_string:
        return f"{spec.import_string.partition(':')[0]}:{spec.located.function_name}"
    function = factory_function(spec.target)
    module = getattr(function, "__module__", None) or "?"
    qualname = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{module}:{qualname}"


def _module_file(spec: SourceSpec) -> str | None:
    if spec.located is not None:
        return spec.located.module_file
    function = factory_function(spec.target)
    module = sys.modules.get(getattr(function, "__module__", "") or "")
    path = getattr(module, "__file__", None) if module is not None else None
    if not path:
        code = getattr(function, "__code__", None)
        path = getattr(code, "co_filename", None)
    return str(path) if path else None


def code_fingerprint(spec: SourceSpec) -> str | None:
    """SHA-256 of the factory's module file, or ``None`` when it has no readable file (then: no cache)."""
    path = _module_file(spec)
    if not path:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _hashable(value: Any) -> Any:
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


def kwargs_fingerprint(source_kwargs: Mapping[str, Any] | None) -> str:
    """SHA-256 of ``source_kwargs`` in a canonical JSON form (values never leave this function otherwise)."""
    text = json.dumps(dict(source_kwargs or {}), sort_keys=True, default=_hashable, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def versions() -> dict[str, str]:
    """dlt's installed version (dlt is not imported) and this package's."""
    from airflow_dlt_provider import __version__

    return {"dlt": installed_version("dlt"), "airflow_dlt_provider": __version__}


def installed_version(distribution: str) -> str:
    """The version of an installed package, read from its ``<name>-<version>.dist-info`` folder's name.

    ``importlib.metadata.version`` parses the whole metadata file (dlt's holds its long description): ~3 ms
    on every parse. It is the fallback when the folder is not beside the package (or not alone there).
    """
    import importlib.util

    spec = importlib.util.find_spec(distribution)  # a top-level name: found, not imported
    if spec is not None and spec.origin:
        prefix, suffix = f"{distribution}-", ".dist-info"
        site = os.path.dirname(os.path.dirname(spec.origin))
        with os.scandir(site) as entries:
            found = [e.name for e in entries if e.name.startswith(prefix) and e.name.endswith(suffix)]
        if len(found) == 1:
            return found[0][len(prefix) : -len(suffix)]
    from importlib.metadata import version

    return version(distribution)


def cache_key(spec: SourceSpec, source_kwargs: Mapping[str, Any] | None) -> str | None:
    """The key of the factory of ``spec`` called with ``source_kwargs``; ``None`` when its code is unknown."""
    code = code_fingerprint(spec)
    if code is None:
        return None
    parts = {
        "factory": factory_identity(spec),
        "kwargs": kwargs_fingerprint(source_kwargs),
        "code": code,
        **versions(),
        "format": str(FORMAT_VERSION),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- entries


def graph_to_entry(key: str, spec: SourceSpec, graph: SourceGraph) -> dict[str, Any]:
    """The JSON stored for ``graph``: the key, the factory identity, versions and resource names only."""
    return {
        "format": FORMAT_VERSION,
        "key": key,
        "factory": factory_identity(spec),
        **versions(),
        "source_name": graph.name,
        "selected": list(graph.selected),
        "parents": dict(graph.parents),
    }


def entry_to_graph(entry: Any, key: str) -> SourceGraph | None:
    """The graph of ``entry`` when it is well formed and was stored under ``key``, else ``None``."""
    if not isinstance(entry, dict) or entry.get("format") != FORMAT_VERSION or entry.get("key") != key:
        return None
    name, selected, parents = entry.get("source_name"), entry.get("selected"), entry.get("parents")
    if not isinstance(name, str) or not isinstance(selected, list) or not isinstance(parents, dict):
        return None
    if not all(isinstance(n, str) for n in selected) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parents.items()
    ):
        return None
    return SourceGraph(name, tuple(selected), parents)


# ---------------------------------------------------------------- stores


def entry_name(dag_id: str, group_id: str) -> str:
    """``dlt_parse_cache__<dag_id>__<group_id>``, made safe and at most 250 characters."""
    return fit_name(f"{VARIABLE_PREFIX}{dag_id}__{group_id}", _MAX_VARIABLE_KEY_LENGTH)


# Plain slotted classes, not dataclasses: defining a dataclass costs about 1 ms, paid on every DAG parse.
class VariableStore:
    """One Airflow Variable per group (see ``_compat.variable_get`` / ``variable_set``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self) -> Any:
        from airflow_dlt_provider import _compat

        text = _compat.variable_get(self.name)
        return json.loads(text) if text else None

    def write(self, entry: dict[str, Any]) -> None:
        from airflow_dlt_provider import _compat

        _compat.variable_set(
            self.name,
            json.dumps(entry, sort_keys=True),
            description="airflow-dlt-provider parse cache (resource names only; safe to delete)",
        )

    def __str__(self) -> str:
        return f"Airflow Variable {self.name!r}"


class FileStore:
    """``.dlt_parse_cache/<name>.json`` beside the DAG file, written atomically."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Any:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text)

    def write(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __str__(self) -> str:
        return f"file {str(self.path)!r}"


Store = VariableStore | FileStore


def make_store(mode: str, dag_id: str, group_id: str, dag_file: str | None) -> Store | None:
    """The store for ``mode``; ``None`` when a file store has no DAG file to sit beside."""
    name = entry_name(dag_id, group_id)
    if mode == "variable":
        return VariableStore(name)
    if not dag_file:
        return None
    return FileStore(
        Path(dag_file).resolve().parent / CACHE_DIR_NAME / f"{name[len(VARIABLE_PREFIX) :]}.json"
    )


# ---------------------------------------------------------------- the one entry point


def cached_graph(
    mode: str,
    *,
    spec: SourceSpec,
    source_kwargs: Mapping[str, Any] | None,
    dag_id: str,
    group_id: str,
    dag_file: str | None,
    compute: Callable[[], Any],
) -> SourceGraph:
    """The graph of the factory of ``spec`` called with ``source_kwargs``: from the store when its key matches,
    else computed and stored.

    ``compute`` calls the factory and returns the ``DltSource`` (or raises, as without a cache).
    """
    key = cache_key(spec, source_kwargs)
    store = make_store(mode, dag_id, group_id, dag_file)
    if key is None or store is None:
        log.debug("dlt parse cache off for %s: no module file or no DAG file", factory_identity(spec))
        return SourceGraph.from_source(compute())
    try:
        graph = entry_to_graph(store.read(), key)
    except Exception as error:  # a broken store must not break the parse
        log.warning("dlt parse cache: reading %s failed (%s); calling the source factory", store, error)
        graph = None
    if graph is not None:
        return graph
    graph = SourceGraph.from_source(compute())
    try:
        store.write(graph_to_entry(key, spec, graph))
    except Exception as error:
        log.warning(
            "dlt parse cache: writing %s failed (%s); the next parse calls the factory again", store, error
        )
    return graph
