"""The words a DAG author passes, as types: every mode and action argument's accepted values.

Import them to type your own helpers (``from airflow_dlt_provider import Decompose``); mypy and IDEs then
check a mode's spelling before Airflow parses the file. The checks that run when a group or task is built
use the tuples beside the code that validates them (``authoring/plan.py``, ``authoring/arguments.py``), so
parsing a DAG does not pay for these types; ``tests/authoring/test_vocabulary.py`` keeps the two equal.

Deprecated values (still accepted for one minor release, with a ``DltProviderDeprecationWarning``) are not
part of the types: ``decompose="parallel"`` is ``"independent"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

__all__ = [
    "Alert",
    "Decompose",
    "LoaderFileFormat",
    "OnSchemaChange",
    "ParseCache",
    "RefreshMode",
    "RowExpectationAction",
    "RunKwargs",
    "SchemaContractEntity",
    "SchemaEvolutionMode",
    "WriteDisposition",
]

Decompose = Literal["none", "serialize", "independent", "parallel-isolated", "mapped"]
"""How a ``DltTaskGroup`` turns the source's components into tasks (docs/concepts/decompose.md):

- ``"none"``: one task for the whole source.
- ``"serialize"``: one task per component, chained.
- ``"independent"``: one task per component; the first runs first, the others depend only on it. They share
  the pipeline, so its one-slot pool runs them **one at a time** (formerly ``"parallel"``).
- ``"parallel-isolated"``: one task per component, each with its own pipeline and pool: they run side by side.
- ``"mapped"``: components found at run time, one mapped task instance each, each with its own pipeline.
"""

OnSchemaChange = Literal["warn", "fail", "ignore"]
"""What a new table or column does: ``"warn"`` loads and logs it, ``"ignore"`` loads it quietly, ``"fail"``
fails the task before anything is loaded. An :data:`Alert` may be passed instead (loads like ``"warn"``)."""

RowExpectationAction = Literal["warn", "fail"]
"""What an unmet row expectation does: ``"warn"`` logs it, ``"fail"`` fails the task after the load (the rows
stay loaded). An :data:`Alert` may be passed instead."""

Alert = Callable[..., Any]
"""A callable taking ``(alert, context)``, or an Airflow notifier (a ``BaseNotifier`` instance)."""

ParseCache = Literal["variable", "file"]
"""Where a group keeps a slow factory's graph between parses (``None``: no cache)."""

# dlt's own vocabularies for run_kwargs (tests/authoring/test_run_kwargs.py compares them with dlt's types)
WriteDisposition = Literal["skip", "append", "replace", "merge"]
LoaderFileFormat = Literal["jsonl", "typed-jsonl", "insert_values", "parquet", "csv", "reference", "model"]
RefreshMode = Literal["drop_sources", "drop_resources", "drop_data"]
SchemaEvolutionMode = Literal["evolve", "discard_value", "freeze", "discard_row"]
SchemaContractEntity = Literal["tables", "columns", "data_type"]


class RunKwargs(TypedDict, total=False):
    """What ``run_kwargs`` accepts (passed to dlt's ``pipeline.run``)."""

    write_disposition: WriteDisposition | Mapping[str, Any]
    loader_file_format: LoaderFileFormat
    schema_contract: SchemaEvolutionMode | Mapping[SchemaContractEntity, SchemaEvolutionMode]
    refresh: RefreshMode
    table_name: str
    columns: Any
    primary_key: str | Sequence[str]
    table_format: str
