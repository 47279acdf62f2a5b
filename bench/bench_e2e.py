"""End-to-end DAG run on a real scheduler: a 20-resource source as ``DltTaskGroup`` (``serialize`` and
``parallel-isolated``) vs dlt's ``PipelineTasksGroup`` (``decompose="serialize"``) vs the floor: the same dlt
work in 20 bare, chained ``PythonOperator`` tasks (each ``pipeline.run`` of its resource into the same DuckDB
file, dlt's Airflow config provider off: plain dlt as fast as a task runs it).

Starts a throwaway PostgreSQL (metadata DB) and a real Airflow (LocalExecutor; Airflow 3: api-server +
scheduler + dag-processor) with ``tests/support/airflow_cluster.py``, writes three DAG files, creates the
pools with ``airflow-dlt pools sync``, then triggers each DAG ``--repeats`` times, one run at a time, and
reports the wall time from the trigger call to the moment the run is seen finished (polling every 1 s), and
the run's own start -> end as recorded by the scheduler. Every resource yields ``--rows`` flat rows into
DuckDB (the embedded default; ``parallel-isolated`` writes one DuckDB file per pipeline).

    python bench/bench_e2e.py [--resources 20] [--rows 100] [--repeats 2] [--keep] [--variants a,b]

Needs PostgreSQL server binaries (run as root: the ``postgres`` user) and free ports; takes a few minutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SOURCE = """\
import dlt


@dlt.source(name="e2e")
def e2e_source(resources: int = {resources}, rows: int = {rows}):
    return [
        dlt.resource([{{"id": j, "name": f"r{{i}}-{{j}}"}} for j in range(rows)], name=f"table_{{i:02d}}")
        for i in range(resources)
    ]
"""

HEADER = """\
import pendulum
from airflow import DAG
from e2e_bench_source import e2e_source

START = pendulum.datetime(2026, 1, 1, tz="UTC")
"""

DLT_TASK_GROUP_DAG = (
    HEADER
    + """
from airflow_dlt_provider import DltTaskGroup

with DAG({dag_id!r}, schedule=None, start_date=START, catchup=False):
    DltTaskGroup(
        "e2e", source=e2e_source, pipeline_name={dag_id!r}, dataset_name="e2e", decompose={decompose!r}
    )
"""
)

PIPELINE_TASKS_GROUP_DAG = (
    HEADER
    + """
import dlt
from dlt.helpers.airflow_helper import PipelineTasksGroup

with DAG({dag_id!r}, schedule=None, start_date=START, catchup=False):
    group = PipelineTasksGroup("e2e", use_data_folder=False, wipe_local_data=True)
    pipeline = dlt.pipeline(
        pipeline_name={dag_id!r},
        destination=dlt.destinations.duckdb({duckdb!r}),
        dataset_name="e2e",
    )
    group.add_run(pipeline, e2e_source(), decompose="serialize")
"""
)

FLOOR_DAG = (
    HEADER
    + """
import os
import tempfile

{python_operator_import}


def load(name):
    os.environ["PROVIDERS__ENABLE_AIRFLOW_SECRETS"] = "false"  # before dlt builds its config providers
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name={dag_id!r},
        pipelines_dir=tempfile.mkdtemp(),
        destination=dlt.destinations.duckdb({duckdb!r}),
        dataset_name="e2e",
    )
    pipeline.run(e2e_source().with_resources(name))


with DAG({dag_id!r}, schedule=None, start_date=START, catchup=False):
    previous = None
    for i in range({resources}):
        task = PythonOperator(task_id=f"table_{{i:02d}}", python_callable=load, op_args=[f"table_{{i:02d}}"])
        if previous is not None:
            previous >> task
        previous = task
"""
)

VARIANTS = (
    ("DltTaskGroup serialize", "e2e_dtg_serialize", "serialize"),
    ("DltTaskGroup parallel-isolated", "e2e_dtg_isolated", "parallel-isolated"),
    ("PipelineTasksGroup serialize", "e2e_ptg_serialize", None),
    ("PythonOperator chain (floor)", "e2e_floor", "floor"),
)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=20)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0, help="per run")
    parser.add_argument("--keep", action="store_true", help="keep the cluster files")
    parser.add_argument(
        "--variants", default="", help="comma-separated DAG ids of the variants to run (default: all)"
    )
    args = parser.parse_args(argv)
    chosen = [v for v in VARIANTS if not args.variants or v[1] in args.variants.split(",")]

    sys.path.insert(0, str(REPO / "tests"))
    from support.airflow_cluster import AirflowCluster
    from support.postgres import PostgresServer

    postgres = PostgresServer.start()
    cluster = None
    results: dict[str, list[tuple[float, float, str]]] = {}
    try:
        cluster = AirflowCluster.start(postgres)
        # the source module sits in the DAGs folder, which Airflow puts on sys.path
        (cluster.dags_folder / "e2e_bench_source.py").write_text(
            SOURCE.format(resources=args.resources, rows=args.rows)
        )
        for _, dag_id, decompose in chosen:
            if decompose is None:
                code = PIPELINE_TASKS_GROUP_DAG.format(
                    dag_id=dag_id, duckdb=str(cluster.home / f"{dag_id}.duckdb")
                )
            elif decompose == "floor":
                code = FLOOR_DAG.format(
                    dag_id=dag_id,
                    duckdb=str(cluster.home / f"{dag_id}.duckdb"),
                    resources=args.resources,
                    python_operator_import=(
                        "from airflow.providers.standard.operators.python import PythonOperator"
                        if cluster.major >= 3
                        else "from airflow.operators.python import PythonOperator"
                    ),
                )
            else:
                code = DLT_TASK_GROUP_DAG.format(dag_id=dag_id, decompose=decompose)
            cluster.add_dag_file(code, dag_id)
        for _, dag_id, _ in chosen:
            cluster.wait_for_dag(dag_id, timeout=300)
            cluster.unpause(dag_id)
        print(cluster.sync_pools().stdout, file=sys.stderr)
        for repeat in range(args.repeats):
            for label, dag_id, _ in chosen:  # interleaved: load changes hit all variants alike
                load = _load()
                triggered = time.monotonic()
                run_id = cluster.trigger(dag_id)
                state = cluster.wait_for_run(dag_id, run_id, timeout=args.timeout)
                wall = time.monotonic() - triggered
                ((start, end),) = cluster.query(
                    "SELECT start_date, end_date FROM dag_run WHERE dag_id = %s AND run_id = %s",
                    (dag_id, run_id),
                )
                run_seconds = (end - start).total_seconds()
                tasks = cluster.task_instances(dag_id, run_id)
                failed = [ti.task_id for ti in tasks if ti.state != "success"]
                if state != "success" or failed:
                    print(f"{label}: run {state}, not successful: {failed}", file=sys.stderr)
                print(
                    f"{label} #{repeat}: {wall:.1f} s wall, {run_seconds:.1f} s run, load {load}",
                    file=sys.stderr,
                )
                results.setdefault(label, []).append((wall, run_seconds, f"{state} ({len(tasks)} tasks)"))
    finally:
        if cluster is not None:
            cluster.stop()
            if not args.keep:
                cluster.cleanup()
        postgres.stop()

    print(f"{args.resources} resources x {args.rows} rows, {args.repeats} runs each (medians)")
    print("| variant | trigger -> seen finished s | run start -> end s | state | load avg after |")
    print("|---|---:|---:|---|---|")
    for label, runs in results.items():
        wall = statistics.median(w for w, _, _ in runs)
        run = statistics.median(r for _, r, _ in runs)
        print(f"| {label} | {wall:.1f} | {run:.1f} | {runs[-1][2]} | {_load()} |")
    floor = results.get("PythonOperator chain (floor)")
    if floor:
        # pair by pair: repeat i of a variant ran next to repeat i of the floor
        print("\n| variant | x floor (run start -> end, median of the pairs) |\n|---|---:|")
        for label, runs in results.items():
            ratios = [r / f for (_, r, _), (_, f, _) in zip(runs, floor, strict=False)]
            print(f"| {label} | {statistics.median(ratios):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
