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

With ``--modes task`` (the default runs both modes) the same comparison runs inside real tasks: a real Airflow
(LocalExecutor, PostgreSQL metadata DB; ``tests/support/airflow_cluster.py``) runs each case as the only
task of a DAG run, one at a time, each in its own task process as on a worker. The time is measured inside
the task around the load only, the peak memory is the task process's ``ru_maxrss``; the task instance's
own duration (start -> end in the metadata DB, including the DAG-file parse in the task process) is
reported too. Cases:

- ``plain-task``: a ``PythonOperator`` whose callable creates the pipeline and runs it (dlt's Airflow
  config provider on, as dlt's default);
- ``plain-task-no-af-config``: the same callable with that provider off (checked inside the task);
- ``operator-task``: ``DltRunOperator``, timed around its ``execute``.

The source is generated (``id`` int, ``name`` str, ``value`` int; no nesting), so normalisation is the same.

    python bench/bench_overhead.py [--sizes 10000,100000,1000000] [--destinations duckdb,postgres]
                                   [--repeats 1] [--modes process,task] [--postgres-dsn URL]

Without ``--postgres-dsn`` a throwaway PostgreSQL cluster is started (tests/support/postgres.py; needs the
server binaries and, as root, the ``postgres`` user); ``--modes task`` always starts one for the metadata DB.
"""

from __future__ import annotations

import argparse
import contextlib
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
IN_TASK_CASES = ("plain-task", "plain-task-no-af-config", "operator-task")
MODES = ("process", "task")


# ---------------------------------------------------------------- the source (imported by children)


def generated_rows(rows: int) -> Iterator[dict[str, Any]]:
    for i in range(rows):
        yield {"id": i, "name": f"name-{i}", "value": i * 7}


def generated(rows: int = 1000) -> Any:
    """A one-resource source of ``rows`` flat rows."""
    import dlt

    count = int(rows)  # a rendered template inside a task

    @dlt.source(name="generated")
    def _source() -> Any:
        return dlt.resource(generated_rows(count), name="items", write_disposition="append")

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


# ---------------------------------------------------------------- in real tasks (--modes task)

IN_TASK_HEADER = """\
import sys
import time
import pendulum
from airflow import DAG
sys.path.insert(0, {bench_dir!r})
import bench_overhead

START = pendulum.datetime(2026, 1, 1, tz="UTC")
"""
PLAIN_TASK_DAG = (
    IN_TASK_HEADER
    + """\
{python_operator_import}

with DAG({dag_id!r}, schedule=None, start_date=START, catchup=False):
    PythonOperator(
        task_id="load",
        python_callable=bench_overhead.plain_in_task,
        op_kwargs={{"no_airflow_config": {no_airflow_config!r}}},
    )
"""
)
OPERATOR_TASK_DAG = (
    IN_TASK_HEADER
    + """\
from airflow_dlt_provider import DltRunOperator


class TimedDltRunOperator(DltRunOperator):
    def execute(self, context):
        with bench_overhead.profiled(context["dag_run"].conf):
            started = time.perf_counter()
            summary = super().execute(context)
            elapsed = time.perf_counter() - started
        context["ti"].xcom_push(key="bench", value=bench_overhead.task_result(elapsed))
        return summary


with DAG({dag_id!r}, schedule=None, start_date=START, catchup=False):
    TimedDltRunOperator(
        task_id="load",
        source=bench_overhead.generated,
        source_kwargs={{"rows": "{{{{ dag_run.conf['rows'] }}}}"}},
        pipeline_name={dag_id!r},
        dataset_name="{{{{ dag_run.conf['dataset'] }}}}",
        destination_conn_id={conn_id!r},
        pool=None,
    )
"""
)
IN_TASK_DAGS = {  # (case, destination) -> DAG id; the plain DAGs take the destination from the run's conf
    ("plain-task", None): "overhead_plain",
    ("plain-task-no-af-config", None): "overhead_plain_no_af_config",
    ("operator-task", "duckdb"): "overhead_operator_duckdb",
    ("operator-task", "postgres"): "overhead_operator_postgres",
}


def airflow_config_provider_active() -> bool:
    """Whether dlt's Airflow Variable provider is among dlt's config providers in this process."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    return "Airflow Secrets TOML Provider" in Container()[PluggableRunContext].providers


def task_result(seconds: float) -> dict[str, Any]:
    """What a benchmark task reports: the load's wall time, the task process's peak RSS, dlt's providers."""
    import resource

    return {
        "seconds": seconds,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "airflow_config_provider": airflow_config_provider_active(),
    }


def plain_in_task(no_airflow_config: bool, **context: Any) -> dict[str, Any]:
    """The plain case as a ``PythonOperator`` callable; the case comes from the DAG run's conf."""
    if no_airflow_config:  # before dlt builds its config providers in this task process
        os.environ["PROVIDERS__ENABLE_AIRFLOW_SECRETS"] = "false"
    case = dict(context["dag_run"].conf)
    with profiled(case):
        seconds = _plain(case)
    return task_result(seconds)


@contextlib.contextmanager
def profiled(case: Any) -> Iterator[None]:
    """cProfile the block into ``<case['profile']>.prof`` when the case asks for it (``--profile DIR``)."""
    target = case.get("profile") if isinstance(case, dict) else None
    if not target:
        yield
        return
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(f"{target}.prof")


def _in_task_dag_id(case: str, destination: str) -> str:
    return IN_TASK_DAGS.get((case, None)) or IN_TASK_DAGS[(case, destination)]


class InTaskRunner:
    """A real Airflow (LocalExecutor, PostgreSQL metadata DB) that runs each case as its own task."""

    def __init__(self, postgres: Any, dsn: str | None) -> None:
        from support.airflow_cluster import AirflowCluster

        self.cluster = AirflowCluster.start(postgres)
        if dsn is not None:
            self.cluster.add_connection("bench_pg", dsn)
        python_operator = (
            "from airflow.providers.standard.operators.python import PythonOperator"
            if self.cluster.major >= 3
            else "from airflow.operators.python import PythonOperator"
        )
        bench_dir = str(Path(__file__).parent)
        for (case, destination), dag_id in IN_TASK_DAGS.items():
            if case == "operator-task":
                code = OPERATOR_TASK_DAG.format(
                    bench_dir=bench_dir,
                    dag_id=dag_id,
                    conn_id="bench_pg" if destination == "postgres" else None,
                )
            else:
                code = PLAIN_TASK_DAG.format(
                    bench_dir=bench_dir,
                    dag_id=dag_id,
                    python_operator_import=python_operator,
                    no_airflow_config=case == "plain-task-no-af-config",
                )
            self.cluster.add_dag_file(code, dag_id)
        for dag_id in IN_TASK_DAGS.values():
            self.cluster.wait_for_dag(dag_id, timeout=300)
            self.cluster.unpause(dag_id)

    def run(self, case: dict[str, Any], timeout: float) -> tuple[float, float, float]:
        """Run one case as a task; returns (load seconds in the task, peak RSS MiB, task instance seconds)."""
        dag_id = _in_task_dag_id(case["case"], case["destination"])
        run_id = self.cluster.trigger(dag_id, conf=case)
        state = self.cluster.wait_for_run(dag_id, run_id, timeout=timeout)
        if state != "success":
            log = self.cluster.task_log(dag_id, run_id, "load")
            raise RuntimeError(f"case {case['case']} ({dag_id}) ended {state}:\n{log[-4000:]}")
        key = "bench" if case["case"] == "operator-task" else "return_value"
        ((value,),) = self.cluster.query(
            "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = 'load' AND key = %s",
            (dag_id, run_id, key),
        )
        result = json.loads(value) if isinstance(value, (str, bytes)) else value
        expected_provider = case["case"] != "plain-task-no-af-config"
        if case["case"] != "operator-task" and result["airflow_config_provider"] != expected_provider:
            raise RuntimeError(
                f"case {case['case']}: dlt's Airflow provider active = {not expected_provider}"
            )
        (ti,) = self.cluster.task_instances(dag_id, run_id)
        duration = (ti.end_date - ti.start_date).total_seconds()
        return float(result["seconds"]), float(result["peak_mib"]), duration

    def stop(self) -> None:
        self.cluster.stop()
        self.cluster.cleanup()


def child(case: dict[str, Any]) -> None:
    runner = {"plain": _plain, "plain-no-af-config": _plain, "operator": _operator}[case["case"]]
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


def _medians(runs: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(statistics.median(column) for column in zip(*runs, strict=True))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--destinations", default="duckdb,postgres")
    parser.add_argument("--repeats", type=int, default=1, help="runs per case (median reported)")
    parser.add_argument(
        "--modes", default="process,task", help="process (a subprocess per case), task (a real task per case)"
    )
    parser.add_argument("--postgres-dsn", default=None)
    parser.add_argument("--case-timeout", type=float, default=3600.0, help="seconds before a case is killed")
    parser.add_argument(
        "--profile",
        default=None,
        help="folder: cProfile every in-task case's timed block into <folder>/<case>_<rows>_<repeat>.prof",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    destinations = [d for d in args.destinations.split(",") if d]
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"--modes: unknown {', '.join(unknown)}; accepted: {', '.join(MODES)}")
    sys.path.insert(0, str(REPO / "tests"))
    from support.postgres import PostgresServer

    env = prepare_airflow_home() if "process" in modes else {}
    server = None
    dsn = args.postgres_dsn
    if dsn is None and ("postgres" in destinations or "task" in modes):
        server = PostgresServer.start()
        if "postgres" in destinations:
            dsn = server.create_database("bench")
    in_task = None
    results: dict[tuple[str, int, str], list[tuple[float, ...]]] = {}
    loads: dict[tuple[str, int], str] = {}
    try:
        if "task" in modes:
            assert server is not None, "--modes task starts its own PostgreSQL (metadata DB)"
            in_task = InTaskRunner(server, dsn if "postgres" in destinations else None)
        cases = (CASES if "process" in modes else ()) + (IN_TASK_CASES if "task" in modes else ())
        for destination in destinations:
            for size in sizes:
                load = _load()
                for repeat in range(args.repeats):
                    # interleaved, and each repeat starts with the next case: load changes and the order
                    # (a destination that grew, caches that warmed) hit all cases alike
                    shift = repeat % len(cases)
                    for case in cases[shift:] + cases[:shift]:
                        tag = f"{case.replace('-', '_')}_{size}_{repeat}_{uuid.uuid4().hex[:6]}"
                        spec = {
                            "case": case,
                            "rows": size,
                            "destination": destination,
                            "dsn": dsn,
                            "pipeline": f"bench_{tag}",
                            "dataset": f"ds_{tag}",
                            "workdir": tempfile.mkdtemp(prefix="adp-bench-case-"),
                            "profile": (
                                str(Path(args.profile).resolve() / f"{case}_{size}_{repeat}")
                                if args.profile
                                else None
                            ),
                        }
                        if case in IN_TASK_CASES:
                            assert in_task is not None
                            result: tuple[float, ...] = in_task.run(spec, args.case_timeout)
                        else:
                            result = run_case(spec, env, args.case_timeout)
                        results.setdefault((destination, size, case), []).append(result)
                        print(f"{destination} {size} {case} #{repeat}: {result}", file=sys.stderr)
                loads[(destination, size)] = f"{load} -> {_load()}"
    finally:
        if in_task is not None:
            in_task.stop()
        if server is not None:
            server.stop()

    print(f"repeats per case: {args.repeats} (medians)")
    for mode, mode_cases, operator in (
        ("process", CASES, "operator"),
        ("task", IN_TASK_CASES, "operator-task"),
    ):
        if mode not in modes:
            continue
        header = ["destination", "rows", "load avg (1/5/15 min) before -> after"]
        header += [f"{case} s" for case in mode_cases] + [f"{case} peak MiB" for case in mode_cases]
        baselines = [case for case in mode_cases if case != operator]
        header += [f"ratio {operator}/{case}" for case in baselines]
        if mode == "task":
            header += [f"{case} task instance s" for case in mode_cases]
        rows = []
        for destination in destinations:
            for size in sizes:
                med = {case: _medians(results[(destination, size, case)]) for case in mode_cases}
                row: list[Any] = [destination, size, loads[(destination, size)]]
                row += [f"{med[case][0]:.2f}" for case in mode_cases]
                row += [f"{med[case][1]:.0f}" for case in mode_cases]
                row += [f"{med[operator][0] / med[case][0]:.3f}" for case in baselines]
                if mode == "task":
                    row += [f"{med[case][2]:.2f}" for case in mode_cases]
                rows.append(row)
        print(
            f"\n{mode}: " + ("a fresh subprocess per case" if mode == "process" else "a real task per case")
        )
        print(_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
