"""Arguments checked at parse time without dlt: ``run_kwargs`` (what ``pipeline.run`` accepts),
``on_schema_change``, ``expect_rows``, ``parse_cache``, ``progress_period_seconds``.

The tuples of accepted values here are the ``Literal`` types of ``vocabulary.py`` as data (that module is not
imported at parse time; ``tests/authoring/test_vocabulary.py`` keeps the two equal).

The accepted values mirror dlt's own ``Literal`` types (``tests/test_run_kwargs.py`` compares them with the
installed dlt, so a dlt release that adds a value fails that test by name). Values that are not plain data
(callables, dlt objects, templated strings) are left to dlt.
"""

# No ``from __future__ import annotations``: see plan.py (RowExpectation is defined on every DAG parse).

from collections.abc import Mapping
from typing import Any, NamedTuple

from airflow_dlt_provider.exceptions import InvalidArgumentError

ACCEPTED_RUN_KWARGS = frozenset(
    {
        "write_disposition",
        "loader_file_format",
        "schema_contract",
        "refresh",
        "table_name",
        "columns",
        "primary_key",
        "table_format",
    }
)

WRITE_DISPOSITIONS = ("skip", "append", "replace", "merge")  # dlt.common.schema.typing.TWriteDisposition
LOADER_FILE_FORMATS = (  # dlt.common.typing.TLoaderFileFormat
    "jsonl",
    "typed-jsonl",
    "insert_values",
    "parquet",
    "csv",
    "reference",
    "model",
)
REFRESH_MODES = ("drop_sources", "drop_resources", "drop_data")  # dlt.common.typing.TRefreshMode
SCHEMA_EVOLUTION_MODES = ("evolve", "discard_value", "freeze", "discard_row")  # TSchemaEvolutionMode
SCHEMA_CONTRACT_ENTITIES = ("tables", "columns", "data_type")  # TSchemaContractEntities


def _refuse(key: str, value: Any, accepted: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"run_kwargs[{key!r}]={value!r} is not accepted; expected {accepted}")


def _one_of(key: str, value: Any, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise _refuse(key, value, f"one of: {', '.join(accepted)}")


def _check_write_disposition(value: Any) -> None:
    if isinstance(value, Mapping):
        _one_of("write_disposition", value.get("disposition"), WRITE_DISPOSITIONS)
        return
    _one_of("write_disposition", value, WRITE_DISPOSITIONS)


def _check_schema_contract(value: Any) -> None:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(SCHEMA_CONTRACT_ENTITIES))
        if unknown:
            raise _refuse(
                "schema_contract",
                dict(value),
                f"a mode, or a dict with keys {', '.join(SCHEMA_CONTRACT_ENTITIES)} "
                f"(unknown: {', '.join(map(str, unknown))})",
            )
        for entity, mode in value.items():
            _one_of(f"schema_contract.{entity}", mode, SCHEMA_EVOLUTION_MODES)
        return
    _one_of("schema_contract", value, SCHEMA_EVOLUTION_MODES)


_VALUE_CHECKS = {
    "write_disposition": _check_write_disposition,
    "loader_file_format": lambda value: _one_of("loader_file_format", value, LOADER_FILE_FORMATS),
    "refresh": lambda value: _one_of("refresh", value, REFRESH_MODES),
    "schema_contract": _check_schema_contract,
}


def check_run_kwargs(run_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``run_kwargs`` after checking its keys and the values that can be checked without dlt."""
    checked = dict(run_kwargs or {})
    unknown = sorted(set(checked) - ACCEPTED_RUN_KWARGS)
    if unknown:
        raise InvalidArgumentError(
            f"run_kwargs has unknown key(s) {', '.join(unknown)}; accepted: {', '.join(sorted(ACCEPTED_RUN_KWARGS))}"
        )
    for key, value in checked.items():
        check = _VALUE_CHECKS.get(key)
        if check is not None and value is not None:
            check(value)
    return checked


def check_refresh_for_group(run_kwargs: Mapping[str, Any], task_count: int, decompose: str) -> None:
    """``refresh="drop_sources"`` drops the whole source in every task: refused for more than one task."""
    if run_kwargs.get("refresh") == "drop_sources" and task_count > 1:
        raise InvalidArgumentError(
            f"run_kwargs['refresh']='drop_sources' cannot be used with decompose={decompose!r} and "
            f"{task_count} tasks: each task would drop the tables the tasks before it loaded in the same "
            "run. Use refresh='drop_resources' (each task drops and reloads its own tables and resource "
            "state, so every table is reloaded once per run), or decompose='none' to drop the whole "
            "source in one task"
        )


ON_SCHEMA_CHANGE_VALUES = ("warn", "fail", "ignore")


def _word_or_alert(value: Any, words: tuple[str, ...], where: str) -> Any:
    """``value`` if it is one of ``words`` or an alert (a callable or an Airflow notifier: a ``BaseNotifier``
    instance is callable), else raise naming ``where`` and what is accepted."""
    if isinstance(value, str) and value in words:
        return value
    if callable(value) and not isinstance(value, (str, type)):
        return value
    raise InvalidArgumentError(
        f"{where}={value!r} is not one of: {', '.join(words)}, a callable taking (alert, context), "
        "or an Airflow notifier (a BaseNotifier instance)"
    )


def check_on_schema_change(value: Any) -> Any:
    """``value`` if it is one of :data:`ON_SCHEMA_CHANGE_VALUES` or an alert, else raise."""
    return _word_or_alert(value, ON_SCHEMA_CHANGE_VALUES, "on_schema_change")


def schema_change_mode(on_schema_change: Any) -> str:
    """How the run treats schema changes: an alert loads and logs them like ``"warn"``, then is called."""
    return on_schema_change if isinstance(on_schema_change, str) else "warn"


class RowExpectation(NamedTuple):
    """Rows a table should get in one run: ``min``/``max`` inclusive, ``None`` unbounded; what an unmet one
    does. ``expect_rows={"orders": RowExpectation(min=1, action="fail")}`` is ``{"orders": (1, None, "fail")}``.

    :param min: fewest rows the table should get in one run (inclusive); ``None``: no lower bound.
    :param max: most rows the table should get in one run (inclusive); ``None``: no upper bound.
    :param action: what an unmet expectation does: ``"warn"`` (default), ``"fail"`` or an alert (a callable
        taking ``(alert, context)`` or an Airflow notifier).
    """

    min: int | None = None
    max: int | None = None
    action: Any = "warn"  # "warn", "fail", or an alert (a callable or a BaseNotifier instance)


EXPECT_ROWS_ACTIONS = ("warn", "fail")
_EXPECT_ROWS_FORMS = (
    "expect_rows maps a table name to (min, max) or (min, max, action): min and max are non-negative "
    "integers or None (unbounded), min <= max; action is 'warn', 'fail', a callable taking (alert, "
    "context) or an Airflow notifier. Example: expect_rows={'orders': (1, None), 'refunds': (None, 100, "
    "'fail')}"
)


def check_expect_rows_action(action: Any, where: str = "expect_rows_action") -> Any:
    return _word_or_alert(action, EXPECT_ROWS_ACTIONS, where)


def _bound(table: str, name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise InvalidArgumentError(
        f"expect_rows[{table!r}] {name}={value!r} is not accepted. {_EXPECT_ROWS_FORMS}"
    )


def _expectation(table: Any, value: Any, default_action: Any) -> RowExpectation:
    if not isinstance(table, str) or not table:
        raise InvalidArgumentError(f"expect_rows key {table!r} is not a table name. {_EXPECT_ROWS_FORMS}")
    if not isinstance(value, (tuple, list)) or len(value) not in (2, 3):
        raise InvalidArgumentError(f"expect_rows[{table!r}]={value!r} is not accepted. {_EXPECT_ROWS_FORMS}")
    low, high = _bound(table, "min", value[0]), _bound(table, "max", value[1])
    if low is not None and high is not None and low > high:
        raise InvalidArgumentError(
            f"expect_rows[{table!r}]={value!r}: min {low} is greater than max {high}. {_EXPECT_ROWS_FORMS}"
        )
    if low is None and high is None:
        raise InvalidArgumentError(
            f"expect_rows[{table!r}]={value!r} expects nothing (min and max are both None). {_EXPECT_ROWS_FORMS}"
        )
    action = value[2] if len(value) == 3 else default_action
    return RowExpectation(low, high, check_expect_rows_action(action, f"expect_rows[{table!r}] action"))


def fold_expect_rows_action(expect_rows: Any, action: Any) -> Any:
    """``expect_rows`` with the deprecated ``expect_rows_action`` written into every entry that names no action
    (warns when it is given; ``None``: not given, ``expect_rows`` is returned as it is)."""
    if action is None:
        return expect_rows
    from airflow_dlt_provider.authoring.deprecations import warn_deprecated

    warn_deprecated(
        "expect_rows_action is deprecated and will be removed in the next minor release: write the action in "
        "each expect_rows entry, e.g. expect_rows={'orders': (1, None, 'fail')} (or RowExpectation(1, None, "
        f"'fail')); expect_rows_action={action!r} is applied to the entries that name none"
    )
    checked = check_expect_rows(expect_rows, action)
    return (
        {table: tuple(expectation) for table, expectation in checked.items()} if expect_rows else expect_rows
    )


def check_expect_rows(expect_rows: Any, action: Any = "warn") -> dict[str, RowExpectation]:
    """``expect_rows`` as ``{table: RowExpectation}``, each without an action of its own taking ``action``."""
    default_action = check_expect_rows_action(action)
    if expect_rows is None:
        return {}
    if not isinstance(expect_rows, Mapping):
        raise InvalidArgumentError(f"expect_rows={expect_rows!r} is not a dict. {_EXPECT_ROWS_FORMS}")
    return {table: _expectation(table, value, default_action) for table, value in expect_rows.items()}


PARSE_CACHE_MODES: tuple[str, ...] = ("variable", "file")
"""Accepted values of ``parse_cache`` (besides ``None``, the default: no cache)."""


def check_parse_cache(parse_cache: Any) -> str | None:
    """Return ``parse_cache`` if it is ``None`` or one of :data:`PARSE_CACHE_MODES`, else raise."""
    if parse_cache is None or (isinstance(parse_cache, str) and parse_cache in PARSE_CACHE_MODES):
        return parse_cache
    raise InvalidArgumentError(
        f"parse_cache={parse_cache!r} is not one of: None (no cache), {', '.join(map(repr, PARSE_CACHE_MODES))}"
    )


DEFAULT_PROGRESS_PERIOD_SECONDS = 30.0
"""How often a task logs the pipeline's progress and records its row counts (``progress_period_seconds``); the
one definition, read by the group, the operator and the run (``runtime/pipeline_run.py``)."""


def check_progress_period(value: Any) -> float:
    """``progress_period_seconds`` as a float if it is a positive number, else raise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise InvalidArgumentError(
        f"progress_period_seconds={value!r} is not accepted; expected a positive number of seconds "
        f"(default {DEFAULT_PROGRESS_PERIOD_SECONDS:g}): how often the task logs the pipeline's progress"
    )
