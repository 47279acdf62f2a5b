"""dlt's normalize worker processes inside a task process forked from a pool process (runtime/processes.py).

The task process is made as a Celery prefork worker makes it: a daemonic pool process (billiard's, as Celery's,
or the standard library's) forks a child with a bare ``os.fork()`` (Airflow's task supervisor), and the child
runs the load. The real executors are in the scheduler tests (test_scheduler_celery.py,
test_scheduler_parallelism.py); ``airflow dags test`` is the last test here.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import traceback
from pathlib import Path
from typing import Any

import dlt
import pytest
from support.dag_runs import airflow_dags_test, duckdb_counts
from support.parallel_dag import EXPECTED_ROWS, check_parallel_run, extracted_by, parallel_dag

from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.runtime import pipeline_run, processes
from airflow_dlt_provider.runtime.workdir import default_duckdb_path

ROWS = 4_000
PARALLEL_ENV = {
    "NORMALIZE__WORKERS": "2",
    "NORMALIZE__START_METHOD": "fork",  # outside Airflow dlt's default on Linux; spawn is the cluster tests'
    "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": "1000",  # several extracted files: work for both workers
    "EXTRACT__WORKERS": "2",
    "LOAD__WORKERS": "2",
}


@dlt.source(name="numbers")
def numbers_source() -> Any:
    @dlt.resource(name="items", write_disposition="append")
    def items() -> Any:
        for start in range(0, ROWS, 500):
            yield [{"id": i, "value": f"v{i}"} for i in range(start, start + 500)]

    @dlt.resource(name="events", write_disposition="append", parallelized=True)
    def events() -> Any:
        for start in range(0, 200, 50):
            yield [{"id": i} for i in range(start, start + 50)]

    return items, events


def _load(pipeline_name: str, working_dir: Path, allow: bool) -> dict[str, Any]:
    request = pipeline_run.RunRequest(
        source=resolve_source_spec(numbers_source),
        pipeline_name=pipeline_name,
        dataset_name="par",
        working_dir=working_dir,
    )
    if allow:
        return pipeline_run.run(request)
    # the negative control: the same run without the provider's block (what every task did before)
    with pipeline_run.dlt_logs_to_task_log():
        pipeline = dlt.pipeline(
            pipeline_name=pipeline_name,
            pipelines_dir=str(working_dir),
            destination=pipeline_run.build_destination(request),
            dataset_name="par",
        )
        pipeline.run(numbers_source())
    return {}


def _task_process(result_file: str, body: Any) -> None:
    """The daemonic pool process: fork the task process, as Airflow's supervisor does, and wait for it."""
    pid = os.fork()
    if pid == 0:
        try:
            inherited = multiprocessing.current_process()
            outcome = {"daemon_before": inherited.daemon, **body()}
            outcome["restored"] = multiprocessing.current_process() is inherited and inherited.daemon
        except BaseException as error:  # noqa: BLE001 -- reported to the test
            outcome = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        Path(result_file).write_text(json.dumps(outcome, default=str))
        os._exit(0)
    os.waitpid(pid, 0)


def _in_daemonic_task_process(tmp_path: Path, body: Any, pool: str = "multiprocessing") -> dict[str, Any]:
    result_file = tmp_path / "result.json"
    context = pytest.importorskip(pool).get_context("fork")
    pool_process = context.Process(target=_task_process, args=(str(result_file), body), daemon=True)
    pool_process.start()
    pool_process.join(timeout=300)
    assert result_file.exists(), f"the task process left no result (exit code {pool_process.exitcode})"
    return dict(json.loads(result_file.read_text()))


@pytest.fixture
def parallel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PARALLEL_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize(
    ("pool", "start_method"),
    [
        ("multiprocessing", "fork"),  # dlt's default outside Airflow on Linux
        pytest.param("billiard", "spawn", marks=pytest.mark.slow),  # Celery's pool, dlt's method in Airflow
    ],
)
def test_normalize_workers_run_in_a_task_forked_from_a_daemonic_pool_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: str, start_method: str
) -> None:
    for key, value in PARALLEL_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NORMALIZE__START_METHOD", start_method)
    name = f"adp_proc_{pool}_{start_method}"

    def body() -> dict[str, Any]:
        summary = _load(name, tmp_path / "work", allow=True)
        return {"rows": summary["rows"]}

    outcome = _in_daemonic_task_process(tmp_path, body, pool)
    assert "error" not in outcome, outcome.get("traceback")
    assert outcome["daemon_before"] is True  # the task process did inherit the pool process's flag
    assert outcome["rows"] == {"items": ROWS, "events": 200}
    assert outcome["restored"] is True  # the inherited identity is back after the run
    assert duckdb_counts(name, "par") == {"items": ROWS, "events": 200}


@pytest.mark.usefixtures("parallel_env")
def test_without_the_block_dlt_cannot_start_its_workers(tmp_path: Path) -> None:
    """The negative control: the failure users saw on Celery (dlt's normalize step, in the same process)."""
    outcome = _in_daemonic_task_process(tmp_path, lambda: _load("adp_proc_refused", tmp_path / "w", False))
    assert "daemonic processes are not allowed to have children" in outcome.get("error", ""), outcome


@pytest.mark.usefixtures("parallel_env")
def test_the_fallback_runs_normalize_in_the_task_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the flag cannot be cleared, normalize runs with one worker, whatever dlt's config says."""
    name = "adp_proc_fallback"
    monkeypatch.setenv(f"{name.upper()}__NORMALIZE__WORKERS", "2")  # the pipeline-scoped key wins in dlt

    def body() -> dict[str, Any]:
        with processes._one_normalize_worker(name):
            _load(name, tmp_path / "w", allow=False)  # dlt's run alone, flag still set
            inside = os.environ["NORMALIZE__WORKERS"], os.environ[f"{name.upper()}__NORMALIZE__WORKERS"]
        return {"inside": inside, "after": os.environ[f"{name.upper()}__NORMALIZE__WORKERS"]}

    outcome = _in_daemonic_task_process(tmp_path, body)
    assert "error" not in outcome, outcome.get("traceback")
    assert outcome["inside"] == ["1", "1"] and outcome["after"] == "2"
    assert duckdb_counts(name, "par") == {"items": ROWS, "events": 200}


@pytest.mark.slow
def test_airflow_dags_test_runs_dlts_parallelism(dags_folder: Path) -> None:
    """``airflow dags test`` (the task in the CLI's own process, not daemonic): dlt's process pool starts with
    its Airflow start method (spawn), parallelized resources run in extract threads, the load in 2 threads."""
    dag_id = "adp_proc_dags_test"
    path = dags_folder / f"{dag_id}.py"
    path.write_text(parallel_dag(dag_id))
    try:
        result = airflow_dags_test(dag_id, python_path=str(Path(__file__).parent))
    finally:
        path.unlink()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Switching pool start method to `spawn`" in output  # dlt's own choice inside a task, kept
    duckdb_path = default_duckdb_path(dag_id)
    assert duckdb_counts(dag_id, "par", path=duckdb_path) == EXPECTED_ROWS
    check_parallel_run(output, extracted_by(duckdb_path))


def test_main_process_identity() -> None:
    """Python's multiprocessing internals: a started child sees a fresh main-process identity, put back after.

    ``multiprocessing.process._current_process``: when a Python release changes it, this test names it.
    """
    inherited = multiprocessing.current_process()
    with processes.main_process_identity() as identity:
        assert multiprocessing.current_process() is identity is not inherited
        assert identity.daemon is False
        assert (identity.name, bytes(identity.authkey)) == (inherited.name, bytes(inherited.authkey))
        child = multiprocessing.get_context("spawn").Process(target=print, args=("",))
        child.start()  # the authkey is pickled for a spawn child: a standard-library AuthenticationString
        child.join(timeout=120)
        assert child.exitcode == 0
    assert multiprocessing.current_process() is inherited
