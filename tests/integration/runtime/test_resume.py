"""Retries resume instead of extracting again; terminal errors do not use retries (``dag.test()`` runs)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from support.dag_runs import metadata_rows, write_dag

from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

# A source that counts its extractions in a file and a sink (the destination) that appends rows to a
# JSON-lines file and fails on the first try of the task: transiently (connection refused) or terminally.
FLAKY_PIPELINE = """
import datetime as _dt
import json
import dlt
from dlt.common.destination.exceptions import DestinationTerminalException
from airflow_dlt_provider._compat import get_current_context

WORK = {work!r}

@dlt.resource(name="items", write_disposition="append")
def items():
    with open(WORK + "/extractions", "a") as handle:
        handle.write("x")
    yield [{{"id": n}} for n in range(30)]

@dlt.destination(batch_size=10, loader_file_format="typed-jsonl", name="flaky_sink")
def flaky_sink(rows, table):
    if get_current_context()["ti"].try_number == 1:
        if {terminal!r}:
            raise DestinationTerminalException("the sink refuses these rows")
        raise ConnectionRefusedError("the sink is not reachable")
    with open(WORK + "/sink.jsonl", "a") as handle:
        for row in rows:
            handle.write(json.dumps({{"table": table["name"], "id": row["id"]}}) + "\\n")
"""

BODY = """DltRunOperator(
    task_id="load",
    source=items,
    pipeline_name={pipeline!r},
    destination=flaky_sink,
    retries={retries},
    retry_delay=_dt.timedelta(seconds=1),
)"""


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _run(dags_folder: Path, work: Path, *, terminal: bool, retries: int):
    dag_id = _unique("dag")
    pipeline = _unique("flaky")
    imports = FLAKY_PIPELINE.format(work=str(work), terminal=terminal)
    path = write_dag(dags_folder, dag_id, BODY.format(pipeline=pipeline, retries=retries), imports=imports)
    try:
        return run_dag(load_dag(path, dag_id))
    finally:
        path.unlink()


def _try_number(result) -> int:
    rows = metadata_rows(
        "SELECT try_number FROM task_instance WHERE dag_id = :dag_id AND run_id = :run_id AND task_id = 'load'",
        dag_id=result.dag_id,
        run_id=result.run_id,
    )
    return int(rows[0][0])


def test_retry_after_load_failure_loads_pending_package_without_extracting(
    dags_folder, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("LOAD__RAISE_ON_MAX_RETRIES", "1")  # fail the attempt on the first job failure
    result = _run(dags_folder, tmp_path, terminal=False, retries=1)

    assert result.state == "success", result.task_states
    assert _try_number(result) == 2
    assert (tmp_path / "extractions").read_text() == "x"  # the retry did not call the source
    ids = [json.loads(line)["id"] for line in (tmp_path / "sink.jsonl").read_text().splitlines()]
    assert sorted(ids) == list(range(30))  # every row once
    assert result.xcom("load")["rows"] == {"items": 30}  # rows of the package finished by the retry
    log = caplog.text
    assert "found 1 pending load package(s) of an earlier attempt of this task" in log
    assert "the retry loads them and does not extract again" in log


def test_terminal_destination_error_fails_without_using_retries(dags_folder, tmp_path, caplog):
    result = _run(dags_folder, tmp_path, terminal=True, retries=2)

    assert result.state == "failed", result.task_states
    assert result.task_states == {"load": "failed"}
    assert _try_number(result) == 1  # two retries were allowed and none was used
    assert not (tmp_path / "sink.jsonl").exists()
    log = caplog.text
    assert "not retried automatically" in log
    assert "1 pending load package(s)" in log  # the package is kept, not dropped


def test_a_cleared_task_whose_package_another_task_loaded_extracts_again(tmp_path, monkeypatch):
    """Task A fails at the load; task B of the pipeline loads A's package and records it for A. A is then
    cleared (its ``max_tries`` grows) after the source was corrected: A extracts and loads again, as a
    cleared task instance does, instead of reporting the load of its earlier self."""
    import socket
    from types import SimpleNamespace

    import dlt
    import duckdb

    from airflow_dlt_provider.authoring.sources import resolve_source_spec
    from airflow_dlt_provider.runtime import pipeline_run
    from airflow_dlt_provider.runtime.workdir import default_duckdb_path

    monkeypatch.setenv("AIRFLOW__DLT__BASE_DIR", str(tmp_path / "dlt"))
    monkeypatch.delenv("AIRFLOW__DLT__WORKING_DIR", raising=False)
    monkeypatch.delenv("AIRFLOW__DLT__PACKAGE_STORE", raising=False)
    pipeline = _unique("cleared")
    version = {"v": "original"}

    @dlt.resource(name="items", write_disposition="append")
    def items():
        yield [{"id": n, "version": version["v"]} for n in range(3)]

    def run_task(run_id: str, max_tries: int, try_number: int) -> dict:
        ti = SimpleNamespace(
            run_id=run_id,
            dag_id="d",
            task_id="load",
            map_index=-1,
            try_number=try_number,
            max_tries=max_tries,
            pool=f"dlt_{pipeline}",
            hostname=socket.gethostname(),
        )
        request = pipeline_run.RunRequest(
            source=resolve_source_spec(items),
            pipeline_name=pipeline,
            dataset_name="shop",
            holds_pipeline_pool=True,
        )
        return pipeline_run.run(request, {"ti": ti, "run_id": run_id})

    load = dlt.Pipeline.load

    def unreachable(self, *args, **kwargs):
        raise ConnectionError("the warehouse is unreachable")

    monkeypatch.setattr(dlt.Pipeline, "load", unreachable)
    try:
        run_task("r1", max_tries=0, try_number=1)
    except Exception as error:
        assert "unreachable" in str(error) or "unreachable" in repr(error.__cause__)
    else:
        raise AssertionError("the first attempt of A should have failed")
    monkeypatch.setattr(dlt.Pipeline, "load", load)
    run_task("r2", max_tries=0, try_number=1)  # B loads A's package first, then its own
    version["v"] = "corrected"

    summary = run_task("r1", max_tries=1, try_number=2)  # A, cleared

    with duckdb.connect(str(default_duckdb_path(pipeline)), read_only=True) as con:
        counts = dict(con.execute("select version, count(*) from shop.items group by 1").fetchall())
    assert counts == {"original": 6, "corrected": 3}
    assert summary["rows"] == {"items": 3}


def test_a_schema_change_refused_with_a_store_never_reaches_the_destination_later(tmp_path, monkeypatch):
    """``on_schema_change="fail"`` refuses run 2's new column after the package was copied to the store
    (before the load): the store forgets it as the worker does, so run 3 does not load it."""
    import socket
    from types import SimpleNamespace

    import dlt
    import duckdb
    import pytest

    from airflow_dlt_provider.authoring.sources import resolve_source_spec
    from airflow_dlt_provider.runtime import pipeline_run
    from airflow_dlt_provider.runtime.workdir import default_duckdb_path

    monkeypatch.setenv("AIRFLOW__DLT__BASE_DIR", str(tmp_path / "dlt"))
    monkeypatch.delenv("AIRFLOW__DLT__WORKING_DIR", raising=False)
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE", f"file://{tmp_path / 'store'}")
    pipeline = _unique("refused")
    step = {"n": 0, "extra": False}

    @dlt.resource(name="events", write_disposition="append")
    def events():
        step["n"] += 1
        yield [{"id": step["n"], **({"ssn": "123-45-6789"} if step["extra"] else {})}]

    def run_task(run_id: str) -> dict:
        ti = SimpleNamespace(
            run_id=run_id, dag_id="d", task_id="load", map_index=-1, try_number=1, max_tries=0,
            pool=f"dlt_{pipeline}", hostname=socket.gethostname(),
        )  # fmt: skip
        request = pipeline_run.RunRequest(
            source=resolve_source_spec(events),
            pipeline_name=pipeline,
            dataset_name="shop",
            holds_pipeline_pool=True,
            on_schema_change="fail",
        )
        return pipeline_run.run(request, {"ti": ti, "run_id": run_id})

    run_task("r1")
    step["extra"] = True
    with pytest.raises(BaseException, match="would change the schema"):
        run_task("r2")
    step["extra"] = False

    run_task("r3")

    with duckdb.connect(str(default_duckdb_path(pipeline)), read_only=True) as con:
        columns = {row[0] for row in con.execute("describe shop.events").fetchall()}
        ids = sorted(row[0] for row in con.execute("select id from shop.events").fetchall())
    assert "ssn" not in columns
    assert ids == [1, 3]
