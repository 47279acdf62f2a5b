"""DAG-file parse cost as Airflow's DAG processor pays it: ``DltTaskGroup`` forms beside plain operators.

The DAG processor parses each file in a fresh child process that has imported only the ``airflow.*`` modules
the file imports (``airflow/utils/file.py: iter_airflow_imports``). ``--mode process`` (the default) does the
same: for each case and repeat a new interpreter imports those modules, then times ``DagBag(<file>)`` and
reports whether dlt (or the source module) got imported. Cases, all with the same three tasks:

- ``plain``: three ``EmptyOperator`` in a ``TaskGroup`` (the floor);
- ``import string + resources``: ``DltTaskGroup(source="bench_parse_source:shop", resources=[...])``;
- ``parse cache (file)``: ``DltTaskGroup(source="bench_parse_source:shop", parse_cache="file")``, warm;
- ``source object``: ``from bench_parse_source import shop; DltTaskGroup(source=shop(), ...)``.

``--mode cluster`` starts a real Airflow (PostgreSQL metadata DB, dag-processor) with the test fixtures and
reads each DAG's own ``dag.last_parse_duration`` after the processor has parsed it ``--repeats`` times.

    python bench/bench_parse.py [--mode process|cluster|both] [--repeats 15]
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
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SOURCE_MODULE = """\
import dlt


@dlt.source(name="shop")
def shop():
    @dlt.resource
    def customers():
        yield [{"id": 1}]

    @dlt.resource
    def orders():
        yield [{"id": 1}]

    @dlt.resource
    def products():
        yield [{"id": 1}]

    return customers, orders, products
"""

HEADER = """\
import pendulum
from airflow import DAG
START = pendulum.datetime(2026, 1, 1, tz="UTC")
"""

CASES = {
    "plain": HEADER
    + """
from airflow.providers.standard.operators.empty import EmptyOperator
try:
    from airflow.sdk import TaskGroup
except ImportError:  # Airflow 2
    from airflow.utils.task_group import TaskGroup

with DAG("parse_plain", schedule=None, start_date=START):
    with TaskGroup("grp"):
        EmptyOperator(task_id="customers") >> EmptyOperator(task_id="orders") >> EmptyOperator(task_id="products")
""",
    "import string + resources": HEADER
    + """
from airflow_dlt_provider import DltTaskGroup

with DAG("parse_import_string", schedule=None, start_date=START):
    DltTaskGroup("grp", source="bench_parse_source:shop", resources=["customers", "orders", "products"],
                 pipeline_name="parse_import_string")
""",
    "parse cache (file)": HEADER
    + """
from airflow_dlt_provider import DltTaskGroup

with DAG("parse_cache", schedule=None, start_date=START):
    DltTaskGroup("grp", source="bench_parse_source:shop", pipeline_name="parse_cache", parse_cache="file")
""",
    "source object": HEADER
    + """
from airflow_dlt_provider import DltTaskGroup
from bench_parse_source import shop

with DAG("parse_source_object", schedule=None, start_date=START):
    DltTaskGroup("grp", source=shop(), pipeline_name="parse_source_object")
""",
}

PARSE_ONE = """
import gc, json, sys, time
from airflow.utils.file import iter_airflow_imports

path, warm_up = sys.argv[1], sys.argv[2]
for name in iter_airflow_imports(path):  # what the DAG processor imports before it forks
    __import__(name)
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3.3
except ImportError:
    from airflow.models.dagbag import DagBag
options = {"include_examples": False} if "include_examples" in DagBag.__init__.__code__.co_varnames else {}

DagBag(warm_up, **options)  # Airflow's one-off set-up (settings, plugins), done by the processor before forking
gc.freeze()  # as the DAG processor does before it forks (dag_processing/manager.py): the child's GC skips that heap
started, cpu_started = time.perf_counter(), time.process_time()
bag = DagBag(path, **options)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({
    "seconds": elapsed,
    "cpu_seconds": cpu,
    "errors": {str(k): str(v)[:300] for k, v in bag.import_errors.items()},
    "tasks": sum(len(d.tasks) for d in bag.dags.values()),
    "dlt_imported": "dlt" in sys.modules,
    "source_module_imported": "bench_parse_source" in sys.modules,
    "provider_modules": sorted(m for m in sys.modules if m.startswith("airflow_dlt_provider")),
}))
"""


def _file_name(case: str) -> str:
    return "parse_" + "".join(c if c.isalnum() else "_" for c in case) + ".py"


def _write_case_files(folder: Path) -> dict[str, Path]:
    (folder / "bench_parse_source.py").write_text(SOURCE_MODULE)
    (folder / "warm_up").mkdir(exist_ok=True)
    (folder / "warm_up" / "empty_dag.py").write_text(
        HEADER + '\nwith DAG("warm_up", schedule=None, start_date=START):\n    pass\n'
    )
    return {case: _write(folder / _file_name(case), code) for case, code in CASES.items()}


def _write(path: Path, code: str) -> Path:
    path.write_text(code)
    return path


def _parse_in_fresh_process(path: Path, env: dict[str, str]) -> dict:
    warm_up = path.parent / "warm_up" / "empty_dag.py"
    result = subprocess.run(
        [sys.executable, "-c", PARSE_ONE, str(path), str(warm_up)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"parsing {path} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return dict(json.loads(lines[-1]))


def parse_env(home: Path, dags: Path) -> dict[str, str]:
    """The environment of a throwaway Airflow home (SQLite) whose DAGs folder is on the Python path."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": os.pathsep.join([str(dags), os.environ.get("PYTHONPATH", "")]),
        "RUNTIME__DLT_TELEMETRY": "false",
    }


def warm_up_parses(paths: Iterable[Path], env: dict[str, str]) -> None:
    """One untimed parse of each file with bytecode writing on: it fills parse caches and writes the ``.pyc``
    files a wheel install would have (an editable install, uv and ``PYTHONDONTWRITEBYTECODE`` leave sources to
    be compiled on every fresh parse, a cost a deployment does not pay)."""
    for path in paths:
        _parse_in_fresh_process(path, {**env, "PYTHONDONTWRITEBYTECODE": ""})


def process_mode(repeats: int, cases: list[str]) -> list[dict]:
    home = Path(tempfile.mkdtemp(prefix="bench-parse-"))
    dags = home / "dags"
    dags.mkdir()
    files = {case: path for case, path in _write_case_files(dags).items() if case in cases or case == "plain"}
    env = parse_env(home, dags)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, check=True
    )
    warm_up_parses(files.values(), env)
    samples: dict[str, list[dict]] = {case: [] for case in files}
    for _ in range(repeats):
        for case, path in files.items():  # interleaved, so load changes hit every case alike
            samples[case].append(_parse_in_fresh_process(path, env))
    floor = statistics.median(s["seconds"] for s in samples["plain"])
    cpu_floor = statistics.median(s["cpu_seconds"] for s in samples["plain"])
    rows = []
    for case, runs in samples.items():
        median = statistics.median(s["seconds"] for s in runs)
        cpu = statistics.median(s["cpu_seconds"] for s in runs)
        rows.append(
            {
                "case": case,
                "median_ms": round(median * 1000, 1),
                "min_ms": round(min(s["seconds"] for s in runs) * 1000, 1),
                "vs_plain": round(median / floor, 2),
                "cpu_ms": round(cpu * 1000, 1),
                "cpu_vs_plain": round(cpu / cpu_floor, 2),
                "dlt_imported": any(s["dlt_imported"] for s in runs),
                "source_module_imported": any(s["source_module_imported"] for s in runs),
                "tasks": runs[-1]["tasks"],
                "errors": runs[-1]["errors"],
            }
        )
    return rows


def cluster_mode(repeats: int) -> list[dict]:
    sys.path.insert(0, str(REPO / "tests"))
    from support.airflow_cluster import AirflowCluster
    from support.postgres import PostgresServer

    postgres = PostgresServer.start()
    cluster = None
    try:
        cluster = AirflowCluster.start(postgres)
        (cluster.dags_folder / "bench_parse_source.py").write_text(SOURCE_MODULE)
        dag_ids = {}
        for case, code in CASES.items():
            cluster.add_dag_file(code, _file_name(case))
            dag_ids[case] = code.split('DAG("', 1)[1].split('"', 1)[0]
        for dag_id in dag_ids.values():
            cluster.wait_for_dag(dag_id, timeout=300)
        durations: dict[str, list[float]] = {case: [] for case in CASES}
        deadline = time.monotonic() + 60 * repeats
        seen: dict[str, set] = {case: set() for case in CASES}
        while time.monotonic() < deadline and min(len(v) for v in durations.values()) < repeats:
            for case, dag_id in dag_ids.items():
                ((parsed_at, duration),) = cluster.query(
                    "SELECT last_parsed_time, last_parse_duration FROM dag WHERE dag_id = %s", (dag_id,)
                )
                if duration is not None and parsed_at not in seen[case]:
                    seen[case].add(parsed_at)
                    durations[case].append(float(duration))
            time.sleep(2)
    finally:
        if cluster is not None:
            cluster.stop()
            cluster.cleanup()
        postgres.stop()
    floor = statistics.median(durations["plain"])
    return [
        {
            "case": case,
            "parses": len(values),
            "median_ms": round(statistics.median(values) * 1000, 1),
            "vs_plain": round(statistics.median(values) / floor, 2),
        }
        for case, values in durations.items()
        if values
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("process", "cluster", "both"), default="process")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=list(CASES),
        default=list(CASES),
        help="process mode: which cases to time",
    )
    args = parser.parse_args(argv)
    if args.mode in ("process", "both"):
        rows = process_mode(args.repeats, args.cases)
        print(f"fresh-process DagBag parse, {args.repeats} repeats (wall: median, min; CPU: median)")
        print(
            "| case | median ms | min ms | x plain | CPU ms | CPU x plain | dlt imported | source module imported "
            "| tasks |"
        )
        print("|---|---:|---:|---:|---:|---:|---|---|---:|")
        for r in rows:
            print(
                f"| {r['case']} | {r['median_ms']} | {r['min_ms']} | {r['vs_plain']} | {r['cpu_ms']} "
                f"| {r['cpu_vs_plain']} | {r['dlt_imported']} "
                f"| {r['source_module_imported']} | {r['tasks']} |"
            )
            if r["errors"]:
                print(f"  import errors: {r['errors']}", file=sys.stderr)
    if args.mode in ("cluster", "both"):
        rows = cluster_mode(args.repeats)
        print("\nDAG processor's own dag.last_parse_duration (median)")
        print("| case | parses | median ms | x plain |")
        print("|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r['case']} | {r['parses']} | {r['median_ms']} | {r['vs_plain']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
