"""``decompose="mapped"`` against the modes that plan at parse time.

``--part parse`` (default): parse time of one DAG file as the DAG processor pays it (a fresh process per
parse, ``airflow.*`` imports done before the clock starts; see bench_parse.py) for a source of N = 10, 1,000
and 5,000 resources:

- ``mapped``: ``DltTaskGroup(source="bench_mapped_source:wide", decompose="mapped")`` -- two tasks, the
  factory is not called, dlt is not imported; N only reaches the factory at run time;
- ``serialize``: the same source with ``parse_cache="file"`` (warm), the cheapest way for serialize to know
  the graph without calling the factory: N tasks are built.

``--part e2e``: a real Airflow (tests/support/airflow_cluster.py) runs a 20-resource source as ``mapped``
(``max_parallel=8``) and as ``parallel-isolated`` (cluster parallelism 8), ``--repeats`` runs each,
interleaved; reports trigger -> seen finished and the run's start -> end.

    python bench/bench_mapped.py [--part parse|e2e|both] [--sizes 10 1000 5000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_e2e import SOURCE as E2E_SOURCE  # noqa: E402
from bench_parse import _parse_in_fresh_process, parse_env, warm_up_parses  # noqa: E402

WIDE_SOURCE = """\
import dlt


@dlt.source(name="wide")
def wide(n: int = 10):
    return [dlt.resource([{"id": i}], name=f"table_{i:05d}") for i in range(n)]
"""

PARSE_DAG = """\
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltTaskGroup

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), max_active_runs=1):
    DltTaskGroup("grp", source="bench_mapped_source:wide", source_kwargs={{"n": {n}}}, pipeline_name={dag_id!r},
                 decompose={decompose!r}{extra})
"""

E2E_DAG = """\
import pendulum
from airflow import DAG
from e2e_bench_source import e2e_source
from airflow_dlt_provider import DltTaskGroup

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
         max_active_runs=1):
    DltTaskGroup("e2e", source={source!r}, pipeline_name={dag_id!r}, dataset_name="e2e", decompose={decompose!r}
                 {extra})
"""


def parse_part(sizes: list[int], repeats: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-mapped-"))
    dags = home / "dags"
    (dags / "warm_up").mkdir(parents=True)
    (dags / "warm_up" / "empty_dag.py").write_text(
        "import pendulum\nfrom airflow import DAG\n"
        'with DAG("warm_up", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):\n    pass\n'
    )
    (dags / "bench_mapped_source.py").write_text(WIDE_SOURCE)
    env = parse_env(home, dags)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, check=True
    )
    files: dict[tuple[str, int], Path] = {}
    for n in sizes:
        for decompose, extra in (("mapped", ""), ("serialize", ', parse_cache="file"')):
            dag_id = f"bench_{decompose}_{n}"
            path = dags / f"{dag_id}.py"
            path.write_text(PARSE_DAG.format(dag_id=dag_id, n=n, decompose=decompose, extra=extra))
            files[(decompose, n)] = path
    warm_up_parses(files.values(), env)  # bytecode, and serialize's parse cache
    samples: dict[tuple[str, int], list[dict]] = {key: [] for key in files}
    for _ in range(repeats):
        for key, path in files.items():  # interleaved: load changes hit every case alike
            samples[key].append(_parse_in_fresh_process(path, env))
    print(f"parse time, fresh process per parse, median of {repeats}")
    print("| resources | mapped ms | tasks | dlt imported | serialize (parse cache) ms | tasks |")
    print("|---:|---:|---:|---|---:|---:|")
    for n in sizes:
        mapped, serial = samples[("mapped", n)], samples[("serialize", n)]
        for runs in (mapped, serial):
            if runs[-1]["errors"]:
                raise RuntimeError(runs[-1]["errors"])
        print(
            f"| {n} | {_median_ms(mapped)} | {mapped[-1]['tasks']} | {any(s['dlt_imported'] for s in mapped)} "
            f"| {_median_ms(serial)} | {serial[-1]['tasks']} |"
        )


def _median_ms(runs: list[dict]) -> str:
    return f"{statistics.median(s['seconds'] for s in runs) * 1000:.1f}"


E2E_VARIANTS = (
    ("mapped (max_parallel=8)", "e2e_mapped", "mapped", ", max_parallel=8"),
    ("parallel-isolated", "e2e_isolated", "parallel-isolated", ""),
)


def e2e_part(resources: int, rows: int, repeats: int, timeout: float) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from support.airflow_cluster import AirflowCluster
    from support.postgres import PostgresServer

    postgres = PostgresServer.start()
    cluster = None
    results: dict[str, list[tuple[float, float, str]]] = {}
    try:
        cluster = AirflowCluster.start(postgres)
        (cluster.dags_folder / "e2e_bench_source.py").write_text(
            E2E_SOURCE.format(resources=resources, rows=rows)
        )
        for _, dag_id, decompose, extra in E2E_VARIANTS:
            source = "e2e_bench_source:e2e_source"
            code = E2E_DAG.format(dag_id=dag_id, source=source, decompose=decompose, extra=extra)
            cluster.add_dag_file(code, dag_id)
        for _, dag_id, _, _ in E2E_VARIANTS:
            cluster.wait_for_dag(dag_id, timeout=300)
            cluster.unpause(dag_id)
        print(cluster.sync_pools().stdout, file=sys.stderr)
        for repeat in range(repeats):
            for label, dag_id, _, _ in E2E_VARIANTS:
                triggered = time.monotonic()
                run_id = cluster.trigger(dag_id)
                state = cluster.wait_for_run(dag_id, run_id, timeout=timeout)
                wall = time.monotonic() - triggered
                ((start, end),) = cluster.query(
                    "SELECT start_date, end_date FROM dag_run WHERE dag_id = %s AND run_id = %s",
                    (dag_id, run_id),
                )
                tasks = cluster.task_instances(dag_id, run_id)
                failed = [ti.task_id for ti in tasks if ti.state != "success"]
                run_seconds = (end - start).total_seconds()
                print(
                    f"{label} #{repeat}: {wall:.1f} s wall, {run_seconds:.1f} s run, {state}, {failed}",
                    file=sys.stderr,
                )
                results.setdefault(label, []).append(
                    (wall, run_seconds, f"{state} ({len(tasks)} task instances)")
                )
    finally:
        if cluster is not None:
            cluster.stop()
            cluster.cleanup()
        postgres.stop()
    print(f"{resources} resources x {rows} rows, {repeats} runs each (medians)")
    print("| variant | trigger -> seen finished s | run start -> end s | state |")
    print("|---|---:|---:|---|")
    for label, runs in results.items():
        wall = statistics.median(w for w, _, _ in runs)
        run = statistics.median(r for _, r, _ in runs)
        print(f"| {label} | {wall:.1f} | {run:.1f} | {runs[-1][2]} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=("parse", "e2e", "both"), default="parse")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 5000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--resources", type=int, default=20)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    if args.part in ("parse", "both"):
        parse_part(args.sizes, args.repeats)
    if args.part in ("e2e", "both"):
        e2e_part(args.resources, args.rows, min(args.repeats, 2), args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
