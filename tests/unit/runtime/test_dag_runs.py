"""runtime/dag_runs.py on Airflow 3: the other running DAG runs, asked of the task's supervisor."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_dlt_provider import _compat
from airflow_dlt_provider.runtime import dag_runs

pytestmark = pytest.mark.skipif(not _compat.AIRFLOW_V_3_0_PLUS, reason="Airflow 2 reads the metadata DB")


class _TaskInstance:
    """What a running task's ``RuntimeTaskInstance`` answers (the public task-SDK calls)."""

    dag_id, run_id = "shop_dag", "own_run"

    def get_dr_count(self, dag_id: str, states: list[str]) -> int:
        return 3

    def get_task_states(self, dag_id: str, task_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {
            "own_run": {"shop.discover": "running"},
            "other_run": {"shop.discover": "running"},
            "done_run": {"shop.discover": "success", "shop.load_0": "success"},
        }

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        return "running"


def test_without_getdagrun_the_state_comes_from_the_public_call_and_the_start_stays_unknown(monkeypatch):
    monkeypatch.setattr(_compat, "supervisor_dag_run", lambda dag_id, run_id: None)  # Airflow 3.1
    found = dag_runs.other_running_dag_runs({"ti": _TaskInstance()}, ["shop.discover", "shop.load"])
    assert found == [
        {"run_id": "other_run", "run_type": None, "start_date": None, "states": {"shop.discover": "running"}}
    ]


def test_with_getdagrun_the_run_brings_its_type_and_start(monkeypatch):
    run = SimpleNamespace(state="running", run_type="backfill", start_date="2026-03-01T00:00:00+00:00")
    monkeypatch.setattr(_compat, "supervisor_dag_run", lambda dag_id, run_id: run)
    found = dag_runs.other_running_dag_runs({"ti": _TaskInstance()}, ["shop.discover", "shop.load"])
    assert [(f["run_id"], f["run_type"], f["start_date"]) for f in found] == [
        ("other_run", "backfill", "2026-03-01T00:00:00+00:00")
    ]
