"""Retries resume instead of extracting again; terminal errors do not use retries (``dag.test()`` runs)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from helpers import metadata_rows, write_dag

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
