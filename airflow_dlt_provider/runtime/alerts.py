"""Alerts after a run: row expectations per table, and the callables / Airflow notifiers told about them.

Row expectations (``expect_rows={"orders": (1, None)}``) are checked against the rows this task loaded
(``summary["rows"]``, child tables included) and reported in the summary under ``row_expectations``:
``{"<table>": {"rows", "min", "max", "status": "ok"|"below"|"above", "action": "warn"|"fail"}}``. A task
checks only the tables of its own resources (see :func:`tables_of_task`), so the tasks of a group that share
one ``expect_rows`` do not report each other's tables as empty.

An alert goes to every callable or notifier that asked for it -- ``on_schema_change=<alert>`` when the schema
changed, ``expect_rows`` actions that are alerts when their expectation was not met -- once per run each:

- a callable is called as ``alert_callable(alert, context)``;
- an Airflow notifier (``BaseNotifier``) is called as Airflow calls it, ``notifier(context)``, with the alert
  in ``context["dlt_alert"]``: its templated fields can say ``{{ dlt_alert.message }}``.

``alert`` is a JSON-able dict (:func:`build_alert`). An alert that raises is logged at ERROR and does not fail
the task: the data is loaded by then.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Collection, Mapping
from typing import Any

from airflow_dlt_provider import _compat
from airflow_dlt_provider.authoring.arguments import RowExpectation
from airflow_dlt_provider.exceptions import RowExpectationError

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- row expectations


def tables_of_task(
    expect_rows: Mapping[str, RowExpectation],
    rows: Mapping[str, int],
    table_owners: Mapping[str, str],
    resources: Collection[str],
    all_resources: bool,
) -> list[str]:
    """The expected tables this task answers for.

    A table is the task's when it loaded rows into it, when the schema says one of its ``resources`` loads
    it (``table_owners``: table -> resource), or, for a table the schema does not know yet, when a resource
    of that name is the task's. A task running every resource of the source (``all_resources``) answers for
    every expected table.
    """
    if all_resources:
        return list(expect_rows)
    return [
        table
        for table in expect_rows
        if table in rows
        or table_owners.get(table) in resources
        or (table not in table_owners and table in resources)
    ]


def _status(rows: int, expectation: RowExpectation) -> str:
    if expectation.min is not None and rows < expectation.min:
        return "below"
    if expectation.max is not None and rows > expectation.max:
        return "above"
    return "ok"


def check_rows(
    expect_rows: Mapping[str, RowExpectation], rows: Mapping[str, int], tables: Collection[str]
) -> dict[str, dict[str, Any]]:
    """The ``row_expectations`` of the summary for ``tables`` (a table with no rows this run has 0)."""
    report: dict[str, dict[str, Any]] = {}
    for table in sorted(tables):
        expectation = expect_rows[table]
        loaded = int(rows.get(table, 0))
        report[table] = {
            "rows": loaded,
            "min": expectation.min,
            "max": expectation.max,
            "status": _status(loaded, expectation),
            "action": "fail" if expectation.action == "fail" else "warn",
        }
    return report


def describe_expectation(table: str, entry: Mapping[str, Any]) -> str:
    bound = f"at least {entry['min']}" if entry["status"] == "below" else f"at most {entry['max']}"
    return f"table {table!r} loaded {entry['rows']} row(s) in this run, expected {bound}"


def log_row_expectations(pipeline_name: str, report: Mapping[str, Mapping[str, Any]]) -> None:
    for table, entry in report.items():
        if entry["status"] == "ok":
            log.info("row expectation met: table %r loaded %d row(s)", table, entry["rows"])
        else:
            log.warning(
                "row expectation not met (action %s): pipeline %r %s",
                entry["action"],
                pipeline_name,
                describe_expectation(table, entry),
            )


def raise_on_failed_expectations(summary: Mapping[str, Any]) -> None:
    """Fail the task (without retries: a retry would load the data again) for unmet ``"fail"`` expectations."""
    report: Mapping[str, Mapping[str, Any]] = summary.get("row_expectations") or {}
    failed = {t: e for t, e in report.items() if e["status"] != "ok" and e["action"] == "fail"}
    if not failed:
        return
    load_ids = ", ".join(summary.get("load_ids") or []) or "none"
    message = (
        f"row expectations not met for pipeline {summary.get('pipeline_name')!r}: "
        + "; ".join(describe_expectation(t, e) for t, e in failed.items())
        + f". The rows of this run are loaded and stay loaded (load id {load_ids}); the task fails without "
        "retrying, so a retry does not load them again."
    )
    error = RowExpectationError(
        message,
        pipeline_name=summary.get("pipeline_name"),
        failures=failed,
        load_ids=summary.get("load_ids") or (),
    )
    raise _compat.airflow_fail_exception()(message) from error


# ---------------------------------------------------------------- who gets an alert


def handlers_for(
    on_schema_change: Any,
    schema_changes: Mapping[str, Any],
    expect_rows: Mapping[str, RowExpectation],
    report: Mapping[str, Mapping[str, Any]],
) -> list[tuple[Any, list[str]]]:
    """``[(alert, reasons)]``: each callable/notifier to call once, with why (``schema_change``, ``rows``)."""
    handlers: dict[int, tuple[Any, list[str]]] = {}

    def add(handler: Any, reason: str) -> None:
        entry = handlers.setdefault(id(handler), (handler, []))
        if reason not in entry[1]:
            entry[1].append(reason)

    if not isinstance(on_schema_change, str) and _changed(schema_changes):
        add(on_schema_change, "schema_change")
    for table, entry in report.items():
        action = expect_rows[table].action
        if entry["status"] != "ok" and not isinstance(action, str):
            add(action, "row_expectations")
    return list(handlers.values())


def _changed(schema_changes: Mapping[str, Any]) -> bool:
    return bool(schema_changes.get("new_tables")) or any((schema_changes.get("new_columns") or {}).values())


def build_alert(
    summary: Mapping[str, Any],
    schema_changes: Mapping[str, Any],
    reasons: list[str],
    context: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The JSON-able alert: what happened, where, and a one-paragraph ``message`` ready for a chat or mail."""
    report: Mapping[str, Mapping[str, Any]] = summary.get("row_expectations") or {}
    unmet = {t: dict(e) for t, e in report.items() if e["status"] != "ok"}
    ti = (context or {}).get("ti")
    alert = {
        "reasons": list(reasons),
        "pipeline_name": summary.get("pipeline_name"),
        "destination": summary.get("destination"),
        "dataset_name": summary.get("dataset_name"),
        "dag_id": getattr(ti, "dag_id", None),
        "run_id": getattr(ti, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "load_ids": list(summary.get("load_ids") or []),
        "schema_changes": dict(schema_changes) if "schema_change" in reasons else {},
        "row_expectations": unmet if "row_expectations" in reasons else {},
        "rows": dict(summary.get("rows") or {}),
    }
    alert["message"] = alert_message(alert)
    return alert


def alert_message(alert: Mapping[str, Any]) -> str:
    where = (
        f"dlt pipeline {alert['pipeline_name']!r} ({alert['destination']} dataset {alert['dataset_name']!r})"
    )
    if alert.get("dag_id"):
        where += f", task {alert['dag_id']}.{alert['task_id']} run {alert['run_id']}"
    parts = []
    changes = alert["schema_changes"]
    if changes.get("new_tables"):
        parts.append("new table(s) " + ", ".join(changes["new_tables"]))
    for table, columns in (changes.get("new_columns") or {}).items():
        if columns and table not in (changes.get("new_tables") or []):
            parts.append(f"new column(s) {', '.join(columns)} in {table}")
    parts += [describe_expectation(t, e) for t, e in alert["row_expectations"].items()]
    return f"{where}: {'; '.join(parts)}"


def send_alerts(
    handlers: list[tuple[Any, list[str]]],
    summary: Mapping[str, Any],
    schema_changes: Mapping[str, Any],
    context: Mapping[str, Any] | None,
) -> None:
    for handler, reasons in handlers:
        alert = build_alert(summary, schema_changes, reasons, context)
        try:
            _call(handler, alert, context)
        except Exception as error:  # the data is loaded: a failing chat service must not fail the task
            log.error(
                "alert %r for %s raised %s: %s",
                handler,
                ", ".join(reasons),
                type(error).__name__,
                _compat.redact(str(error)),
            )
        else:
            log.info("alert sent to %r (%s)", handler, ", ".join(reasons))


def _call(handler: Any, alert: dict[str, Any], context: Mapping[str, Any] | None) -> None:
    if isinstance(handler, _compat.BaseNotifier):
        # Airflow renders a notifier's templated fields in place: a copy keeps the DAG's object untouched
        notifier = copy.copy(handler)
        # the task's own context (a copy of Airflow 2's Context would read every deprecated key)
        notifier_context: Any = context if context is not None else {"dag": None}
        notifier_context["dlt_alert"] = alert
        try:
            notifier(notifier_context)
        finally:
            notifier_context.pop("dlt_alert", None)
        return
    handler(alert, context)
