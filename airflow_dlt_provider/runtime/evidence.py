"""What the destination itself says about a load package: dlt's own evidence, never a guess.

Two questions, each answered from what dlt writes at the destination (``docs/concepts/retries.md``):

- **Was package ``L`` loaded completely?** dlt writes the row ``load_id = L`` into ``_dlt_loads`` (SQL
  destinations) or the file ``_dlt_loads/<schema>__L.jsonl`` (filesystem) only in ``complete_load``, after
  every job of the package and every followup job committed. Present: yes. Absent: no. A function
  destination (``@dlt.destination``) keeps no such record: unknown (``None``).
- **Did job ``J`` of package ``L`` commit?** A SQL job runs in one transaction (``INSERT ... SELECT`` on
  DuckDB, ``BEGIN ... COMMIT`` for insert-values on PostgreSQL), so its rows are all there or none is; the
  row with the ``_dlt_id`` of the job file's first row answers it, in the table (or staging table) the job
  writes to, where that row can only come from ``L``:
  - a root table carries ``_dlt_load_id``: the lookup asks for ``_dlt_load_id = L`` too, so a row of an
    earlier load never matches, even where ``_dlt_id`` is a hash of the key (``upsert``) or of the row
    (``scd2``);
  - a nested table has no ``_dlt_load_id``; its ``_dlt_id`` is derived from its parent's, which is random
    for ``append``, ``replace`` and ``delete-insert``, so it belongs to ``L`` alone;
  - tables loaded through the staging dataset (merge, ``replace`` through staging) and ``replace`` tables
    are emptied when dlt initialises the package (once per package): the caller consults this only when
    that initialisation has happened for ``L`` (``_dlt_internals.schema_update_applied``), so every row
    there is ``L``'s -- for ``upsert``/``scd2`` nested tables too.
  When the file has no ``_dlt_id`` or the lookup fails: unknown.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from airflow_dlt_provider import _compat, _dlt_internals

log = logging.getLogger(__name__)


def loads_recorded(pipeline: Any, schema_name: str, load_ids: Iterable[str]) -> set[str] | None:
    """The load ids of ``load_ids`` the destination recorded as complete; ``None`` when it cannot tell."""
    wanted = sorted(set(load_ids))
    if not wanted:
        return set()
    if is_function_destination(pipeline):  # it keeps no record of loads
        return None
    try:
        with pipeline.destination_client(schema_name) as client:
            # the filesystem client also offers a sql_client (for reading its files): ask for its files first
            if callable(getattr(client, "list_table_files", None)):
                return _filesystem_loads_recorded(client, wanted)
            sql_client = getattr(client, "sql_client", None)
            if sql_client is not None:
                return _sql_loads_recorded(client, sql_client, wanted)
    except Exception as error:
        if _is_missing_table(error):
            return set()
        log.warning(
            "could not read dlt's _dlt_loads table at the destination (%s): whether load package(s) %s "
            "were loaded is unknown",
            _compat.redact(f"{type(error).__name__}: {error}"),
            ", ".join(wanted),
        )
        return None
    return None


def is_function_destination(pipeline: Any) -> bool:
    """A ``@dlt.destination`` function: no ``_dlt_loads``, only dlt's own record of delivered batches."""
    import dlt

    return isinstance(pipeline.destination, dlt.destinations.destination)  # subclasses of a custom one too


def _sql_loads_recorded(client: Any, sql_client: Any, wanted: list[str]) -> set[str]:
    table = sql_client.make_qualified_table_name(client.schema.loads_table_name)
    column = sql_client.escape_column_name(client.schema.naming.normalize_identifier("load_id"))
    placeholders = ", ".join(["%s"] * len(wanted))
    try:
        rows = sql_client.execute_sql(
            f"SELECT {column} FROM {table} WHERE {column} IN ({placeholders})", *wanted
        )
    except Exception as error:
        if _is_missing_table(error):
            return set()
        raise
    return {str(row[0]) for row in rows or []}


def _filesystem_loads_recorded(client: Any, wanted: list[str]) -> set[str]:
    try:
        files = client.list_table_files(client.schema.loads_table_name)
    except Exception as error:
        if _is_missing_table(error):
            return set()
        raise
    names = {posixpath.basename(str(path)) for path in files}
    return {load_id for load_id in wanted if f"{client.schema.name}__{load_id}.jsonl" in names}


def _is_missing_table(error: BaseException) -> bool:
    from dlt.common.destination.exceptions import DestinationUndefinedEntity

    return isinstance(error, DestinationUndefinedEntity)  # dlt's DatabaseUndefinedRelation is one too


def job_committed(
    client: Any, load_id: str, job_file: Path, table_name: str, file_format: str
) -> bool | None:
    """Whether a SQL job's rows are at the destination (see the module docstring); ``None``: unknown."""
    from airflow_dlt_provider.runtime.job_files import first_row_value

    sql_client = getattr(client, "sql_client", None)
    if sql_client is None:
        return None
    naming = client.schema.naming
    id_column = naming.normalize_identifier("_dlt_id")
    load_column = naming.normalize_identifier("_dlt_load_id")
    try:
        row_id = first_row_value(job_file, file_format, id_column)
    except Exception:  # a file the reader cannot parse: unknown
        row_id = None
    if row_id is None:
        return None
    columns = (client.schema.tables.get(table_name) or {}).get("columns") or {}
    where = f"{sql_client.escape_column_name(id_column)} = %s"
    args: list[Any] = [row_id]
    if load_column in columns:
        where += f" AND {sql_client.escape_column_name(load_column)} = %s"
        args.append(load_id)
    try:
        with _dlt_internals.staging_dataset_for(client, table_name):
            table = sql_client.make_qualified_table_name(table_name)
            found = sql_client.execute_sql(f"SELECT 1 FROM {table} WHERE {where}", *args)
    except Exception as error:
        if _is_missing_table(error):
            return False  # no table: nothing of this job can be there
        log.warning(
            "could not look up the first row of load job %s in table %r (%s)",
            job_file.name,
            table_name,
            _compat.redact(f"{type(error).__name__}: {error}"),
        )
        return None
    return bool(found)
