"""Checks for a project's DAG folder: every file imports, every pool a dlt task needs is declared.

Nothing heavy at import time (the pytest plugin imports this module when pytest starts): Airflow is
imported inside the functions.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_dlt_provider.exceptions import DagFolderImportError, DltSourceCheckError, PoolsNotDeclaredError

MAX_TRACEBACK_LINES = 12
"""Import errors are cut to their last lines: the DAG file's frame and the exception."""


def format_import_errors(import_errors: Mapping[str, Any], folder: str | Path | None = None) -> str:
    """A readable report of ``DagBag.import_errors``: one block per file, path relative to ``folder``."""
    blocks = []
    base = Path(folder).resolve() if folder else None
    for path, error in sorted(import_errors.items()):
        shown = str(path)
        if base is not None:
            with contextlib.suppress(ValueError):
                shown = str(Path(path).resolve().relative_to(base))
        lines = str(error).strip().splitlines()
        if len(lines) > MAX_TRACEBACK_LINES:
            lines = ["...", *lines[-MAX_TRACEBACK_LINES:]]
        blocks.append(f"{shown}:\n" + "\n".join(f"    {line}" for line in lines))
    where = f" in {folder}" if folder else ""
    count = len(blocks)
    return f"{count} DAG file{'s' if count != 1 else ''} failed to import{where}:\n\n" + "\n\n".join(blocks)


def load_dag_folder(folder: str | Path, *, raise_on_errors: bool = True) -> Any:
    """Parse ``folder`` the way the DAG processor does and return the ``DagBag``.

    The folder is put on ``sys.path`` first, as Airflow does for its DAGs folder, so DAG files can import
    modules that live next to them (``source="my_pipeline:my_source"``). With ``raise_on_errors`` (the
    default) import errors raise :class:`DagFolderImportError` with a readable report.

    :param folder: the DAGs folder.
    :param raise_on_errors: raise on import errors (default); ``False`` returns the ``DagBag`` with them.
    """
    from airflow_dlt_provider._compat import dag_bag

    path = Path(folder)
    if not path.exists():
        raise DagFolderImportError(f"DAG folder {str(path)!r} does not exist")
    if path.is_dir() and str(path) not in sys.path:
        sys.path.insert(0, str(path))
    bag = dag_bag(str(path))
    if raise_on_errors and bag.import_errors:
        raise DagFolderImportError(format_import_errors(bag.import_errors, path))
    return bag


def _dags(dags: Any) -> list[Any]:
    """A ``DagBag``, a ``{dag_id: DAG}`` mapping, one DAG or an iterable of DAGs -> a list of DAGs."""
    if hasattr(dags, "dags") and isinstance(dags.dags, Mapping):
        return list(dags.dags.values())
    if isinstance(dags, Mapping):
        return list(dags.values())
    if hasattr(dags, "task_dict"):
        return [dags]
    return list(dags)


def read_pools_file(path: str | Path) -> dict[str, int]:
    """``{pool: slots}`` declared in ``path``.

    Accepted: the JSON of ``airflow pools export`` / ``airflow-dlt pools export`` (``{name: {"slots": n}}``),
    a JSON list of ``{"name"|"pool": ..., "slots": n}``, and the Astro CLI's ``airflow_settings.yaml``
    (``airflow: pools: [{pool_name, pool_slot}]``, needs PyYAML).

    :param path: the JSON or YAML file.
    """
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    if file.suffix in {".yaml", ".yml"}:
        import yaml

        document = yaml.safe_load(text) or {}
        entries = (document.get("airflow") or {}).get("pools") or []
        return {str(e["pool_name"]): int(e.get("pool_slot", 1)) for e in entries}
    document = json.loads(text)
    if isinstance(document, dict):
        return {str(name): int((spec or {}).get("slots", 1)) for name, spec in document.items()}
    if isinstance(document, list):
        return {str(e.get("name") or e["pool"]): int(e.get("slots", 1)) for e in document}
    raise ValueError(
        f"pools file {str(file)!r} holds a {type(document).__name__}; expected a JSON object "
        "{name: {slots}}, a JSON list or an airflow_settings.yaml"
    )


def _declared_in_db(names: list[str]) -> dict[str, int]:
    from airflow_dlt_provider.pools.sync import existing_pools

    return existing_pools(names)


def assert_dlt_pools_declared(dags: Any, pools_file: str | Path | None = None) -> list[Any]:
    """Fail unless every pool a ``DltRunOperator`` of ``dags`` uses is declared with enough slots.

    ``dags``: a ``DagBag``, a mapping of DAGs, a DAG or DAGs. Declared means: in ``pools_file`` (see
    :func:`read_pools_file`) when given, else in the configured Airflow metadata DB. A task whose pool does
    not exist is never scheduled, and Airflow only says so in the scheduler log. Returns the pools needed
    (``airflow_dlt_provider.pools.sync.PoolNeed``).

    :param dags: a ``DagBag``, a mapping of DAGs, a DAG or DAGs.
    :param pools_file: a file of declared pools (see :func:`read_pools_file`); default: the metadata DB.
    """
    from airflow_dlt_provider.pools.sync import pools_needed

    needs = pools_needed(_dags(dags))
    if pools_file is not None:
        declared = read_pools_file(pools_file)
        where = f"pools file {pools_file}"
        fix = "add them to that file (airflow-dlt pools export -o FILE writes it from the DAGs folder)"
    else:
        declared = _declared_in_db([need.name for need in needs])
        where = "the Airflow metadata DB"
        fix = "create them: airflow-dlt pools sync (or airflow pools set NAME 1 DESCRIPTION)"
    problems = []
    for need in needs:
        if need.name not in declared:
            problems.append(f"  {need.name} (used by {', '.join(need.tasks)}) is missing")
        elif declared[need.name] < need.slots:
            problems.append(
                f"  {need.name} has {declared[need.name]} slot(s), but {', '.join(need.tasks)} need(s) {need.slots}"
            )
    if problems:
        raise PoolsNotDeclaredError(
            f"{len(problems)} pool(s) used by dlt tasks are not declared in {where}; {fix}:\n"
            + "\n".join(problems)
        )
    return needs


__all__ = ["assert_dlt_pools_declared", "format_import_errors", "load_dag_folder", "read_pools_file"]


def assert_dlt_sources_valid(dags: Any) -> None:
    """Import every dlt task's source and check its resource names, as ``airflow-dlt check`` does.

    Raises :class:`DltSourceCheckError` listing the errors; sources that cannot be called in a test (they need
    a connection, a templated argument) are skipped. ``dags``: a ``DagBag`` or an iterable of DAGs.
    """
    from airflow_dlt_provider.authoring.full_check import check_dlt_tasks

    errors = [finding for finding in check_dlt_tasks(_dags(dags)) if finding.kind == "error"]
    if errors:
        raise DltSourceCheckError(
            f"{len(errors)} dlt task(s) with a wrong source or resource name:\n"
            + "\n".join(f"  {finding.where}: {finding.message}" for finding in errors)
        )
