"""Throughput of one task on a real worker vs plain dlt run from a shell, with dlt's own parallelism.

For each executor (``local``: LocalExecutor; ``celery``: CeleryExecutor, prefork pool, Redis broker), destination
(DuckDB, PostgreSQL), size (rows) and setting (``NORMALIZE__WORKERS`` 1 or 2; with 2 workers the start method
dlt picks itself -- ``spawn`` inside an Airflow task, ``fork`` from a shell on Linux -- or ``fork`` forced with
``NORMALIZE__START_METHOD``), two cases run side by side, interleaved, one at a time:

- ``plain``: a fresh ``python`` process from a shell (this script's ``--child``) that creates the pipeline and
  runs it, dlt's Airflow config provider off (``PROVIDERS__ENABLE_AIRFLOW_SECRETS=false``: plain dlt as it
  runs outside Airflow);
- ``task``: a ``DltRunOperator`` task on the executor's worker (destination from an Airflow connection, or the
  DuckDB default), the settings set in the task process before ``execute``.

Both get the same dlt settings as environment variables: the workers, ``EXTRACT__DATA_WRITER__FILE_MAX_ITEMS``
= rows / 8 (eight extracted files, so that normalize has work for both workers), ``LOAD__WORKERS`` left at
dlt's default. The time is measured around the load only (pipeline creation + run, or ``execute``), inside the
process. Peak memory comes from ``getrusage`` in the process itself, the same way in both cases: its own peak
RSS and the largest peak of its reaped children (dlt's normalize workers); the tree figure is the process's
peak plus ``NORMALIZE__WORKERS`` times the largest worker's (an upper bound: the peaks need not coincide, and
forked workers share pages with their parent).

The source is generated flat rows (``id``, ``name``, ``value``) in one resource: extraction is serial, normalize
is where dlt's worker processes help.

    python bench/bench_throughput.py [--executors local,celery] [--destinations duckdb,postgres]
        [--sizes 100000,1000000] [--settings w1,w2,w2-fork] [--repeats 1]

Needs the PostgreSQL server binaries (and ``redis-server`` for ``celery``); starts a throwaway PostgreSQL (the
metadata DB and the destination) and one cluster per executor (tests/support/airflow_cluster.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
SETTINGS = {  # name -> dlt settings on top of the file size
    "w1": {"NORMALIZE__WORKERS": "1"},
    "w2": {"NORMALIZE__WORKERS": "2"},
    "w2-fork": {"NORMALIZE__WORKERS": "2", "NORMALIZE__START_METHOD": "fork"},
}


def settings_env(setting: str, rows: int) -> dict[str, str]:
    return {**SETTINGS[setting], "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": str(max(rows // 8, 1000))}


# ---------------------------------------------------------------- measuring (imported by the tasks too)


def peaks() -> dict[str, float]:
    """Peak RSS (MiB) of this process and of its largest child so far (dlt's normalize workers, once reaped).

    ``getrusage``, no sampling thread: a thread walking the process table inside the task would compete with
    dlt's extraction for the GIL (it slowed a Celery task's extraction 4x in a first version of this script).
    """
    import resource

    return {
        "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def generated(rows: int = 1000) -> Any:
    """One resource of ``rows`` flat rows (the source of bench_overhead.py)."""
    import dlt

    count = int(rows)

    def items() -> Any:
        for i in range(count):
            yield {"id": i, "name": f"name-{i}", "value": i * 7}

    @dlt.source(name="generated")
    def _source() -> Any:
        return dlt.resource(items(), name="items", write_disposition="append")

    return _source()


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


TASK_DAG = """\
import os
import sys
import time

import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator

sys.path.insert(0, {bench_dir!r})
import bench_throughput


class TimedDltRunOperator(DltRunOperator):
    def execute(self, context):
        os.environ.update(context["dag_run"].conf["env"])  # before dlt resolves its configuration
        started = time.perf_counter()
        summary = super().execute(context)
        seconds = time.perf_counter() - started
        assert summary["rows"]["items"] == context["dag_run"].conf["rows"], summary["rows"]
        context["ti"].xcom_push(key="bench", value={{"seconds": seconds, **bench_throughput.peaks()}})
        return summary


with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    TimedDltRunOperator(
        task_id="load",
        source=bench_throughput.generated,
        source_kwargs={{"rows": "{{{{ dag_run.conf['rows'] }}}}"}},
        pipeline_name={dag_id!r},
        dataset_name="{{{{ dag_run.conf['dataset'] }}}}",
        destination_conn_id={conn_id!r},
        pool=None,
    )
"""
DAG_IDS = {"duckdb": "throughput_duckdb", "postgres": "throughput_postgres"}


# ---------------------------------------------------------------- the two cases


def run_plain(case: dict[str, Any], timeout: float) -> tuple[float, float, float]:
    """A fresh process from a shell; returns (load seconds, its peak MiB, its largest worker's peak MiB)."""
    env = {
        **os.environ,
        **case["env"],
        "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false",
        "RUNTIME__DLT_TELEMETRY": "false",
    }
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW__")}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(case)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        err.seek(0)
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"plain failed ({proc.returncode}):\n{err.read()[-4000:]}")
    result = json.loads(lines[-1][7:])
    return float(result["seconds"]), float(result["self_mib"]), float(result["worker_mib"])


def run_task(cluster: Any, case: dict[str, Any], timeout: float) -> tuple[float, float, float]:
    dag_id = DAG_IDS[case["destination"]]
    run_id = cluster.trigger(dag_id, conf=case)
    state = cluster.wait_for_run(dag_id, run_id, timeout=timeout)
    if state != "success":
        tries = cluster.task_instances(dag_id, run_id)
        log = cluster.task_log(dag_id, run_id, "load", tries[0].try_number or 1) if tries else ""
        raise RuntimeError(f"task {dag_id} {run_id} ended {state}:\n{log[-4000:]}")
    ((value,),) = cluster.query(
        "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = 'load' AND key = 'bench'",
        (dag_id, run_id),
    )
    result = json.loads(value) if isinstance(value, (str, bytes)) else value
    return float(result["seconds"]), float(result["self_mib"]), float(result["worker_mib"])


def start_cluster(executor: str, postgres: Any, redis: Any, dsn: str | None) -> Any:
    from support.airflow_cluster import AirflowCluster, CeleryAirflowCluster

    if executor == "celery":
        cluster = CeleryAirflowCluster.start(postgres, db_name="airflow_celery", redis=redis)
    else:
        cluster = AirflowCluster.start(postgres)
    if dsn is not None:
        cluster.add_connection("bench_pg", dsn)
    for destination, dag_id in DAG_IDS.items():
        conn_id = "bench_pg" if destination == "postgres" else None
        cluster.add_dag_file(TASK_DAG.format(bench_dir=str(BENCH), dag_id=dag_id, conn_id=conn_id), dag_id)
    for dag_id in DAG_IDS.values():
        cluster.wait_for_dag(dag_id, timeout=300)
        cluster.unpause(dag_id)
    return cluster


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executors", default="local,celery")
    parser.add_argument("--destinations", default="duckdb,postgres")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--settings", default="w1,w2,w2-fork")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--case-timeout", type=float, default=1800.0)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        seconds = _plain(json.loads(args.child))
        print("RESULT " + json.dumps({"seconds": seconds, **peaks()}), flush=True)
        return 0

    executors = [e for e in args.executors.split(",") if e]
    destinations = [d for d in args.destinations.split(",") if d]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    settings = [s for s in args.settings.split(",") if s]
    sys.path.insert(0, str(REPO / "tests"))
    from support.postgres import PostgresServer

    postgres = PostgresServer.start()
    redis = None
    if "celery" in executors:
        from support.redis import RedisServer

        redis = RedisServer.start()
    dsn = postgres.create_database("bench") if "postgres" in destinations else None
    rows: list[list[Any]] = []
    try:
        for executor in executors:
            cluster = start_cluster(executor, postgres, redis, dsn)
            try:
                for destination in destinations:
                    for size in sizes:
                        for setting in settings:
                            load_before = _load()
                            runs: dict[str, list[tuple[float, float, float]]] = {"plain": [], "task": []}
                            for repeat in range(args.repeats):
                                order = ("plain", "task") if repeat % 2 == 0 else ("task", "plain")
                                for kind in order:
                                    tag = f"{kind}_{setting.replace('-', '_')}_{size}_{uuid.uuid4().hex[:6]}"
                                    case = {
                                        "rows": size,
                                        "destination": destination,
                                        "dsn": dsn,
                                        "pipeline": f"tp_{tag}",
                                        "dataset": f"ds_{tag}",
                                        "workdir": tempfile.mkdtemp(prefix="adp-bench-tp-"),
                                        "env": settings_env(setting, size),
                                    }
                                    if kind == "plain":
                                        result = run_plain(case, args.case_timeout)
                                    else:
                                        result = run_task(cluster, case, args.case_timeout)
                                    runs[kind].append(result)
                                    print(
                                        f"{executor} {destination} {size} {setting} {kind} #{repeat}: "
                                        f"{result[0]:.2f} s, {result[1]:.0f} MiB (worker {result[2]:.0f}), "
                                        f"load {_load()}",
                                        file=sys.stderr,
                                        flush=True,
                                    )
                            ratios = [p[0] / t[0] for p, t in zip(runs["plain"], runs["task"], strict=True)]
                            med = {k: [statistics.median(r[i] for r in v) for i in range(3)]
                                   for k, v in runs.items()}  # fmt: skip
                            workers = int(SETTINGS[setting]["NORMALIZE__WORKERS"])
                            tree = {  # the process and its normalize workers (each at its own peak)
                                k: m[1] + (workers * m[2] if workers > 1 else 0) for k, m in med.items()
                            }
                            rows.append(
                                [
                                    executor,
                                    destination,
                                    size,
                                    setting,
                                    f"{med['plain'][0]:.2f}",
                                    f"{med['task'][0]:.2f}",
                                    f"{statistics.median(ratios):.2f}",
                                    f"{med['plain'][1]:.0f} / {med['plain'][2]:.0f}",
                                    f"{med['task'][1]:.0f} / {med['task'][2]:.0f}",
                                    f"{tree['task'] / tree['plain']:.2f}",
                                    f"{load_before} -> {_load()}",
                                ]
                            )
            finally:
                cluster.stop()
                cluster.cleanup()
    finally:
        if redis is not None:
            redis.stop()
        postgres.stop()

    print(f"repeats per case: {args.repeats} (medians; speed = plain s / task s, pair by pair)")
    header = [
        "executor",
        "destination",
        "rows",
        "setting",
        "plain s",
        "task s",
        "task speed (plain s / task s)",
        "plain peak MiB (process / largest worker)",
        "task peak MiB (process / largest worker)",
        "task / plain tree MiB",
        "load avg before -> after",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
