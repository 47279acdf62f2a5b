"""Alerts: on_schema_change with a callable or an Airflow notifier, and row expectations per table."""

from __future__ import annotations

import pytest
from support.sources.schema_changes import RecordingNotifier, people

from airflow_dlt_provider.authoring.arguments import RowExpectation, check_expect_rows, check_on_schema_change
from airflow_dlt_provider.exceptions import InvalidArgumentError

# ---------------------------------------------------------------- parse time


def test_expect_rows_forms_are_accepted_with_their_action():
    notifier = RecordingNotifier("/dev/null")
    checked = check_expect_rows(
        {"orders": (1, None), "refunds": [None, 100, "fail"], "users": (0, 5, notifier)}, "warn"
    )
    assert checked == {
        "orders": RowExpectation(1, None, "warn"),
        "refunds": RowExpectation(None, 100, "fail"),
        "users": RowExpectation(0, 5, notifier),
    }
    assert check_expect_rows(None, "fail") == {}


@pytest.mark.parametrize(
    ("expect_rows", "action", "message"),
    [
        ({"orders": 1}, "warn", r"expect_rows\['orders'\]=1 is not accepted"),
        ({"orders": (5, 1)}, "warn", "min 5 is greater than max 1"),
        ({"orders": (-1, None)}, "warn", "min=-1 is not accepted"),
        ({"orders": (1.5, None)}, "warn", "min=1.5 is not accepted"),
        ({"orders": (None, None)}, "warn", "expects nothing"),
        (
            {"orders": (1, None, "stop")},
            "warn",
            r"expect_rows\['orders'\] action='stop' is not one of: warn, fail",
        ),
        ({"orders": (1, None)}, "error", "expect_rows_action='error' is not one of: warn, fail"),
        (["orders"], "warn", "is not a dict"),
    ],
)
def test_bad_expect_rows_fail_at_parse_time_saying_what_is_accepted(expect_rows, action, message):
    with pytest.raises(InvalidArgumentError, match=message) as excinfo:
        check_expect_rows(expect_rows, action)
    assert "Example: expect_rows=" in str(excinfo.value) or "a callable taking (alert, context)" in str(
        excinfo.value
    )


def test_on_schema_change_accepts_a_callable_or_a_notifier_but_not_a_class():
    notifier = RecordingNotifier("/dev/null")
    assert check_on_schema_change(notifier) is notifier
    assert check_on_schema_change(print) is print
    with pytest.raises(InvalidArgumentError, match="or an Airflow notifier"):
        check_on_schema_change(RecordingNotifier)


def test_the_group_checks_expect_rows_before_building_tasks():
    from airflow_dlt_provider import DltTaskGroup

    with pytest.raises(InvalidArgumentError, match="min 3 is greater than max 2"):
        DltTaskGroup("g", source=people, pipeline_name="p", expect_rows={"users": (3, 2)})
