"""In-task overhead: ``DltRunOperator`` vs a plain ``dlt.pipeline(...).run(source)`` of the same source.

For each size (rows) and destination (DuckDB, PostgreSQL) every case runs in a fresh Python subprocess;
wall time is measured inside the child around the load only (pipeline creation + run, or
``DltRunOperator.execute(context)``), peak memory is the child's ``ru_maxrss`` as its parent collects it
(``os.wait4``: the ``RUSAGE_CHILDREN`` figure of exactly that child). Cases:

- ``plain``: ``dlt.pipeline(pipelines_dir=<tmp>, destination=..., dataset_name=...).run(source)``, in the
  same venv (Airflow installed, so dlt's Airflow config provider is active and looks up one Airflow Variable
  per config key in the metadata DB, as any ``PythonOperator`` running dlt would).
- ``plain-no-af-config``: the same with dlt's Airflow config provider switched off
  (``PROVIDERS__ENABLE_AIRFLOW_SECRETS=false``): plain dlt as it runs outside Airflow, the strictest baseline.
- ``operator``: ``DltRunOperator(...).execute(context)`` with a task context of the shape Airflow passes
  (``ti``, ``run_id``, data interval, ``outlet_events``): working dir, destination from an Airflow
  connection (PostgreSQL) or the embedded DuckDB default, dlt log forwarding, resumable-run bookkeeping, the
  summary, schema-change report and one asset event per table included.
- with ``--in-task`` (experimental: one PostgreSQL case hung on the loaded benchmark machine, not part of
  the published figures), also ``plain-task`` / ``operator-task``: the same two inside a real task run by
  ``dag.test()`` (a ``PythonOperator`` for the plain one); the figure is the task instance's duration.

The source is generated (``id`` int, ``name`` str, ``value`` int; no nesting), so normalisation is the same.

    python bench/bench_overhead.py [--sizes 10000,100000,1000000] [--destinations duckdb,postgres]
                                   [--repeats 1] [--in-task] [--postgres-dsn URL]

Without ``--postgres-dsn`` a throwaway PostgreSQL cluster is started (tests/fixtures/postgres.py; needs the
server binaries and, as root, the ``postgres`` user).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
CASES = ("plain", "plain-no-af-config", "operator")
IN_TASK_CASES = ("plain-task", "operator-task")


# ---------------------------------------------------------------- the source (imported by children)


def generated_rows(rows: int) -> Iterator[dict[str, Any]]:
    for i in range(rows):
        yield {"id": i, "name": f"name-{i}", "value": i * 7}


def generated(rows: int = 1000) -> Any:
    """A one-resource source of ``rows`` flat rows."""
    import dlt

    @dlt.source(name="generated")
    def _source() -> Any:
        return dlt.resource(generated_rows(rows), name="items", write_disposition="append")

    return _source()


# ---------------------------------------------------------------- children


def _plain(case: dict[str, Any]) -> float:
    import dlt

    if case["destination"] == "postgres":
        destination = dlt.destinations.postgres(credentials=case["dsn"])
    else:
        destination = dlt.destinations.duckdb(str(Path(case["workdir"]) / f"{case['pipeline']}.duckdb"))
    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name=case["pipeline"],
        pipelines_dir=str(Path(case["workdir"]) / "pipelines"),
        destination=destination,
        dataset_name=case["dataset"],
    )
    pipeline.run(generated(case["rows"]))
    return time.perf_counter() - started


def _outlet_events() -> Any:
    try:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    except ImportError:  # Airflow 2
        from airflow.utils.context import OutletEventAccessors  # type: ignore[no-redef,attr-defined]
    return OutletEventAccessors()


def _operator(case: dict[str, Any]) -> float:
    from types import SimpleNamespace

    from airflow_dlt_provider import DltRunOperator

    postgres = case["destination"] == "postgres"
    if postgres:
        os.environ["AIRFLOW_CONN_BENCH_PG"] = case["dsn"]
    operator = DltRunOperator(
        task_id="load",
        source=generated,
        source_kwargs={"rows": case["rows"]},
        pipeline_name=case["pipeline"],
        destination_conn_id="bench_pg" if postgres else None,
        dataset_name=case["dataset"],
        pool=None,
    )
    run_id = f"manual__{uuid.uuid4().hex}"
    ti = SimpleNamespace(dag_id="bench_overhead", task_id="load", run_id=run_id, map_index=-1, try_number=1)
    context = {
        "ti": ti,
        "task_instance": ti,
        "run_id": run_id,
        "data_interval_start": None,
        "data_interval_end": None,
        "logical_date": None,
        "outlet_events": _outlet_events(),
    }
    started = time.perf_counter()
    summary = operator.execute(context)
    elapsed = time.perf_counter() - started
    assert summary["rows"].get("items") == case["rows"], summary["rows"]
    return elapsed


IN_TASK_DAG = """\
import os
import sys
import pendulum
from airflow import DAG
sys.path.insert(0, {bench_dir!r})
import bench_overhead
from airflow_dlt_provider import DltRunOperator
{operator_import}

CASE = {case!r}

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
{task}
"""
PLAIN_TASK = "    PythonOperator(task_id='load', python_callable=bench_overhead._plain, op_args=[CASE])\n"
OPERATOR_TASK = """\
    DltRunOperator(
        task_id='load', source=bench_overhead.generated, source_kwargs={'rows': CASE['rows']},
        pipeline_name=CASE['pipeline'], dataset_name=CASE['dataset'], pool=None,
        destination_conn_id='bench_pg' if CASE['destination'] == 'postgres' else None,
    )
"""


def _in_task(case: dict[str, Any]) -> float:
    """Run the case as a task of ``dag.test()``; returns the task instance's duration."""
    from airflow_dlt_provider._compat import AIRFLOW_V_3
    from airflow_dlt_provider.testing.dagrun import _query, load_dag, run_dag

    if case["destination"] == "postgres":
        os.environ["AIRFLOW_CONN_BENCH_PG"] = case["dsn"]
    dags = Path(os.environ["AIRFLOW_HOME"]) / "dags"
    dags.mkdir(exist_ok=True)
    dag_id = f"bench_{case['case'].replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    path = dags / f"{dag_id}.py"
    python_operator = (
        "from airflow.providers.standard.operators.python import PythonOperator"
        if AIRFLOW_V_3
        else "from airflow.operators.python import PythonOperator"
    )
    path.write_text(
        IN_TASK_DAG.format(
            bench_dir=str(Path(__file__).parent),
            operator_import=python_operator,
            case=case,
            dag_id=dag_id,
            task=PLAIN_TASK if case["case"] == "plain-task" else OPERATOR_TASK,
        )
    )
    try:
        result = run_dag(load_dag(path, dag_id))
    finally:
        path.unlink()
    if result.state != "success":
        raise RuntimeError(f"{dag_id}: run {result.state}, tasks {result.task_states}")
    ((start, end),) = _query(
        "SELECT start_date, end_date FROM task_instance WHERE dag_id = :d AND run_id = :r",
        d=dag_id,
        r=result.run_id,
    )
    if isinstance(start, str):
        from datetime import datetime

        start, end = datetime.fromisoformat(start), datetime.fromisoformat(end)
    return float((end - start).total_seconds())


def child(case: dict[str, Any]) -> None:
    runner = {"plain": _plain, "plain-no-af-config": _plain, "operator": _operator}.get(
        case["case"], _in_task
    )
    seconds = runner(case)
    print("RESULT " + json.dumps({"seconds": seconds}), flush=True)


# ---------------------------------------------------------------- parent


def run_case(case: dict[str, Any], env: dict[str, str], timeout: float = 3600.0) -> tuple[float, float]:
    """Run one case in a fresh subprocess; returns (seconds, peak RSS in MiB)."""
    if case["case"] == "plain-no-af-config":
        env = {**env, "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false"}
    with tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(case)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err_file,
            text=True,
        )
        killer = threading.Timer(timeout, proc.kill)  # a hung case must not block the whole benchmark
        killer.start()
        try:
            out = proc.stdout.read() if proc.stdout is not None else ""
        finally:
            killer.cancel()
        # reap with wait4: the rusage of exactly this child (RUSAGE_CHILDREN would be the max of all so far)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err_file.seek(0)
        err = err_file.read()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"case {case['case']} failed ({proc.returncode}):\n{out[-2000:]}\n{err[-4000:]}")
    return json.loads(lines[-1][7:])["seconds"], usage.ru_maxrss / 1024


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def prepare_airflow_home() -> dict[str, str]:
    home = tempfile.mkdtemp(prefix="adp-bench-overhead-")
    env = {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(home) / "dags"),
        "RUNTIME__DLT_TELEMETRY": "false",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    }
    (Path(home) / "dags").mkdir()
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--destinations", default="duckdb,postgres")
    parser.add_argument("--repeats", type=int, default=1, help="runs per case (median reported)")
    parser.add_argument("--in-task", action="store_true", help="also run both inside a dag.test() task")
    parser.add_argument("--postgres-dsn", default=None)
    parser.add_argument("--case-timeout", type=float, default=3600.0, help="seconds before a case is killed")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    destinations = [d for d in args.destinations.split(",") if d]
    cases = CASES + (IN_TASK_CASES if args.in_task else ())
    env = prepare_airflow_home()
    server = None
    dsn = args.postgres_dsn
    if "postgres" in destinations and dsn is None:
        sys.path.insert(0, str(REPO / "tests"))
        from fixtures.postgres import PostgresServer

        server = PostgresServer.start()
        dsn = server.create_database("bench")
    rows: list[tuple[Any, ...]] = []
    try:
        for destination in destinations:
            for size in sizes:
                results: dict[str, list[tuple[float, float]]] = {}
                load = _load()
                for repeat in range(args.repeats):
                    for case in cases:  # interleaved, so load changes hit all cases alike
                        tag = f"{case.replace('-', '_')}_{size}_{repeat}_{uuid.uuid4().hex[:6]}"
                        spec = {
                            "case": case,
                            "rows": size,
                            "destination": destination,
                            "dsn": dsn,
                            "pipeline": f"bench_{tag}",
                            "dataset": f"ds_{tag}",
                            "workdir": tempfile.mkdtemp(prefix="adp-bench-case-"),
                        }
                        results.setdefault(case, []).append(run_case(spec, env, args.case_timeout))
                        print(f"{destination} {size} {case} #{repeat}: {results[case][-1]}", file=sys.stderr)
                med = {
                    c: (statistics.median(s for s, _ in r), statistics.median(m for _, m in r))
                    for c, r in results.items()
                }
                row = [destination, size, f"{load} -> {_load()}"]
                for case in cases:
                    row += [f"{med[case][0]:.2f}", f"{med[case][1]:.0f}"]
                row.append(f"{med['operator'][0] / med['plain'][0]:.3f}")
                row.append(f"{med['operator'][0] / med['plain-no-af-config'][0]:.3f}")
                if args.in_task:
                    row.append(f"{med['operator-task'][0] / med['plain-task'][0]:.3f}")
                rows.append(tuple(row))
    finally:
        if server is not None:
            server.stop()

    header = ["destination", "rows", "load avg (1/5/15 min) before -> after"]
    for case in cases:
        header += [f"{case} s", f"{case} peak MiB"]
    header.append("ratio operator/plain")
    header.append("ratio operator/plain-no-af-config")
    if args.in_task:
        header.append("ratio in task")
    print(f"repeats per case: {args.repeats} (medians)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
