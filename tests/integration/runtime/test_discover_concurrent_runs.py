"""A mapped group's discover task yields to another running DAG run of its DAG (a backfill beside the schedule).

The rule is tested as data; the check itself through ``dag.test()`` with a second DAG run in the metadata DB
(a backfill run that is loading its components).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pendulum
import pytest
from support.dag_runs import write_dag

from airflow_dlt_provider.exceptions import ConcurrentDagRunError, DltProviderError
from airflow_dlt_provider.runtime.discover import blocking_runs, concurrent_run_error

pytestmark = [pytest.mark.timeout(600)]

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
DISCOVER = "shop.discover"


def _run(run_id: str, minutes: int | None, **states: str) -> dict:
    return {
        "run_id": run_id,
        "run_type": "backfill",
        "start_date": None if minutes is None else T0 + timedelta(minutes=minutes),
        "states": {DISCOVER: "running", **{key.replace("__", "."): value for key, value in states.items()}},
    }


def _blocking(*others: dict, own_minutes: int = 10) -> list[str]:
    found = blocking_runs(
        own_run_id="scheduled__me",
        own_start_date=T0 + timedelta(minutes=own_minutes),
        discover_task_id=DISCOVER,
        others=others,
    )
    return [str(other["run_id"]) for other in found]


def test_a_run_that_is_loading_always_blocks() -> None:
    loading = _run("backfill__later", 20, shop__discover="success", shop__load_0="running")
    assert _blocking(loading) == ["backfill__later"]


def test_of_two_runs_discovering_at_once_the_first_to_start_goes_on() -> None:
    assert _blocking(_run("backfill__earlier", 5)) == ["backfill__earlier"]
    assert _blocking(_run("backfill__later", 20)) == []
    # a start date unknown (Airflow 3.1 gives none): the run ids decide, the same way in both runs
    assert _blocking(_run("backfill__no_start", None)) == ["backfill__no_start"]
    assert _blocking(_run("z_no_start", None)) == []
    # a tie in start dates: the run ids decide, the same way in both runs
    assert _blocking(_run("a_first", 10)) == ["a_first"]
    assert _blocking(_run("z_last", 10)) == []


@pytest.mark.parametrize(
    ("a_own", "a_seen_by_b", "b_own", "b_seen_by_a"),
    [
        (0, None, 5, None),  # Airflow 3.1: each run knows its own start, never the other's
        (None, None, None, None),
        (0, 0, None, None),
        (None, None, 5, 5),
    ],
)
def test_of_two_runs_exactly_one_goes_on_whatever_start_dates_they_know(
    a_own, a_seen_by_b, b_own, b_seen_by_a
):
    def start(minutes: int | None) -> datetime | None:
        return None if minutes is None else T0 + timedelta(minutes=minutes)

    a_yields = blocking_runs(
        own_run_id="run_a",
        own_start_date=start(a_own),
        discover_task_id=DISCOVER,
        others=[_run("run_b", b_seen_by_a)],
    )
    b_yields = blocking_runs(
        own_run_id="run_b",
        own_start_date=start(b_own),
        discover_task_id=DISCOVER,
        others=[_run("run_a", a_seen_by_b)],
    )
    assert [bool(a_yields), bool(b_yields)].count(True) == 1


def test_the_message_names_the_run_and_the_backfill_command_that_works() -> None:
    error = concurrent_run_error(
        dag_id="shop_dag",
        pipeline_name="shop",
        discover_task_id=DISCOVER,
        blocking=[
            _run("backfill__2026-02-01T00:00:00+00:00", 5, shop__discover="success", shop__load_1="running")
        ],
    )
    message = str(error)
    assert "'backfill__2026-02-01T00:00:00+00:00' (backfill, started 2026-03-01T00:05:00+00:00" in message
    assert "loading 1 component(s) now" in message
    assert "pipelines shop__<component>" in message
    assert (
        "airflow backfill create --dag-id shop_dag --from-date ... --to-date ... --max-active-runs 1"
        in message
    )
    assert isinstance(error, DltProviderError)  # retried by Airflow, not AirflowFailException


def _set_run(
    dag_id: str, run_id: str, *, state: str, run_type: str | None = None, load_state: str | None = None
) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import update

    values: dict = {"state": state}
    if run_type is not None:
        values["run_type"] = run_type
    with create_session() as session:
        session.execute(
            update(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).values(**values)
        )
        if load_state is not None:
            session.execute(
                update(TaskInstance)
                .where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id == "shop.load",
                    TaskInstance.map_index == 0,
                )
                .values(state=load_state)
            )


@pytest.mark.slow
def test_discover_fails_retryably_beside_a_running_backfill_run_and_names_it(
    dags_folder, make_conn, tmp_path, capfd
):
    from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

    conn_id = make_conn("duckdb", host=str(tmp_path / "conc.duckdb"))
    suffix = uuid.uuid4().hex[:8]
    dag_id = f"mapped_concurrent_{suffix}"
    body = f"""
    DltTaskGroup("shop", source=shop, pipeline_name="conc_{suffix}", destination_conn_id={conn_id!r},
                 dataset_name="conc_raw", decompose="mapped", source_kwargs={{"rows": 2}})
    """
    path = write_dag(
        dags_folder,
        dag_id,
        body,
        imports="from support.sources.task_only import shop\nfrom airflow_dlt_provider import DltTaskGroup",
        dag_args="max_active_runs=1",
    )
    first = run_dag(load_dag(path, dag_id), logical_date=pendulum.datetime(2026, 2, 1, tz="UTC"))
    assert first.state == "success", first.task_states

    # the first run becomes a backfill run that is still loading one of its components
    _set_run(dag_id, first.run_id, state="running", run_type="backfill", load_state="running")
    capfd.readouterr()
    second = run_dag(load_dag(path, dag_id), logical_date=pendulum.datetime(2026, 2, 2, tz="UTC"))
    output = "".join(capfd.readouterr())
    assert second.state == "failed", second.task_states
    assert second.task_states["shop.discover"] == "failed"
    assert set(second.task_states) == {"shop.discover", "shop.load"}  # nothing was mapped, nothing loaded
    assert ConcurrentDagRunError.__name__ in output
    assert f"DAG {dag_id!r} has another running DAG run, {first.run_id!r} (backfill" in output
    assert "loading 1 component(s) now" in output
    assert "--max-active-runs 1" in output

    # once that run is done, the next run discovers and loads
    _set_run(dag_id, first.run_id, state="success", load_state="success")
    third = run_dag(load_dag(path, dag_id), logical_date=pendulum.datetime(2026, 2, 3, tz="UTC"))
    assert third.state == "success", third.task_states
    assert third.task_states["shop.load"] == "success" and len(third.xcom("shop.discover")) == 3
