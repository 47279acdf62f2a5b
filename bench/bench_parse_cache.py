"""Parse time of a DAG whose dlt source factory takes 2 s to call, with and without ``parse_cache``.

A factory module (20 resources and a transformer; ``time.sleep(2)`` stands for reflecting a database) and a
DAG file with one ``DltTaskGroup(..., parse_cache=<mode>)`` are written to a temp folder; the DAG file
records how long the ``DltTaskGroup(...)`` call took. For each mode (``None``, ``"variable"``, ``"file"``)
the file is parsed with a ``DagBag`` as the DAG processor does:

- *cold*: the first parse (empty store: the factory is called and the entry written);
- *warm, in-process*: ``--runs`` more parses in the same process (a new ``DagBag`` each time, so the DAG
  file is executed again; the factory module stays imported, as in a long-lived DAG processor);
- *warm, subprocess*: ``--runs`` parses each in a fresh Python process (imports of Airflow, dlt and the
  provider included -- the cost a process pays once; Airflow 3's DAG processor forks per file, with Airflow
  already imported).

The ``variable`` store uses the metadata DB of a temp ``AIRFLOW_HOME`` (SQLite, migrated first). Target:
a warm parse costs under 50 ms for the ``DltTaskGroup`` construction.

    python bench/bench_parse_cache.py [--runs 10] [--modes none,variable,file]
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

SLEEP_SECONDS = 2.0
RESOURCES = 20

SOURCE_MODULE = f"""\
import time

import dlt


@dlt.source(name="reflected")
def reflected(schema: str = "public"):
    time.sleep({SLEEP_SECONDS})  # stands for reflecting a database
    tables = [dlt.resource([{{"id": 1}}], name=f"table_{{i:02d}}") for i in range({RESOURCES})]

    @dlt.transformer(data_from=tables[0], name="table_00_details")
    def details(item):
        yield item

    return [*tables, details]
"""

DAG_FILE = """\
import time
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltTaskGroup

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    _started = time.perf_counter()
    DltTaskGroup(
        "reflected",
        source="{module}:reflected",
        source_kwargs={{"schema": "public"}},
        pipeline_name="reflected",
        decompose="parallel-isolated",
        parse_cache={mode!r},
    )
    with open({timings!r}, "a") as _f:
        _f.write(f"{{time.perf_counter() - _started}}\\n")
"""

PARSE_CHILD = """
import sys, time
sys.path.insert(0, {code_dir!r})
from airflow_dlt_provider._compat import dag_bag
t0 = time.perf_counter()
bag = dag_bag({path!r})
elapsed = time.perf_counter() - t0
assert not bag.import_errors, bag.import_errors
assert len(bag.dags[{dag_id!r}].tasks) == {tasks}, len(bag.dags[{dag_id!r}].tasks)
print("T", elapsed)
"""


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _store_must_answer() -> None:
    raise AssertionError("warm store: the factory must not be called")


class Setup:
    def __init__(self, root: Path, mode: str | None) -> None:
        self.mode = mode
        self.code_dir = root / f"code_{mode}"
        self.dags_dir = root / f"dags_{mode}"
        self.code_dir.mkdir()
        self.dags_dir.mkdir()
        self.module = f"reflected_{mode}_{uuid.uuid4().hex[:6]}"
        (self.code_dir / f"{self.module}.py").write_text(SOURCE_MODULE)
        self.dag_id = f"parse_cache_bench_{mode}"
        self.timings = root / f"timings_{mode}.txt"
        self.path = self.dags_dir / f"{self.dag_id}.py"
        self.path.write_text(
            DAG_FILE.format(dag_id=self.dag_id, module=self.module, mode=mode, timings=str(self.timings))
        )

    def lookup_times(self, runs: int) -> list[float]:
        """The cache lookup alone (key + store read + entry check), as ``DltTaskGroup`` does it, warm store."""
        import importlib

        from airflow_dlt_provider.authoring.parse_cache import cached_graph
        from airflow_dlt_provider.authoring.sources import SourceSpec

        factory = importlib.import_module(self.module).reflected
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            cached_graph(
                str(self.mode),
                spec=SourceSpec(factory),
                source_kwargs={"schema": "public"},
                dag_id=self.dag_id,
                group_id="reflected",
                dag_file=str(self.path),
                compute=_store_must_answer,
            )
            times.append(time.perf_counter() - started)
        return times

    def construction_times(self) -> list[float]:
        return [float(x) for x in self.timings.read_text().split()]

    def parse_in_process(self) -> float:
        from airflow_dlt_provider._compat import dag_bag

        started = time.perf_counter()
        bag = dag_bag(str(self.path))
        elapsed = time.perf_counter() - started
        if bag.import_errors:
            raise RuntimeError(str(bag.import_errors))
        assert len(bag.dags[self.dag_id].tasks) == RESOURCES
        return elapsed

    def parse_in_subprocess(self) -> tuple[float, float]:
        code = PARSE_CHILD.format(
            code_dir=str(self.code_dir), path=str(self.path), dag_id=self.dag_id, tasks=RESOURCES
        )
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-3000:])
        inner = [line for line in result.stdout.splitlines() if line.startswith("T ")]
        return float(inner[-1][2:]), wall


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}" if values else "-"


def prepare_home() -> None:
    home = tempfile.mkdtemp(prefix="adp-bench-parse-cache-")
    os.environ["AIRFLOW_HOME"] = home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("RUNTIME__DLT_TELEMETRY", "false")
    # a loaded machine can take longer than Airflow's 30 s default to import dlt in a subprocess
    os.environ.setdefault("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "600")
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--subprocess-runs", type=int, default=None, help="default: --runs")
    parser.add_argument("--modes", default="none,variable,file")
    args = parser.parse_args(argv)
    prepare_home()
    # imports are a one-off cost of the process, not of a parse: do them before the cold parse
    import dlt  # noqa: F401

    from airflow_dlt_provider import DltTaskGroup  # noqa: F401
    from airflow_dlt_provider._compat import dag_bag  # noqa: F401

    root = Path(tempfile.mkdtemp(prefix="adp-bench-parse-cache-files-"))
    rows = []
    for raw in args.modes.split(","):
        mode = None if raw == "none" else raw
        setup = Setup(root, mode)
        sys.path.insert(0, str(setup.code_dir))
        load = _load()
        cold = setup.parse_in_process()
        warm_runs = args.runs if mode is not None else min(args.runs, 3)  # uncached: 2 s each
        warm = [setup.parse_in_process() for _ in range(warm_runs)]
        construction = setup.construction_times()
        sub_runs = min(warm_runs, args.subprocess_runs or warm_runs)
        sub = [setup.parse_in_subprocess() for _ in range(sub_runs)]
        construction_sub = setup.construction_times()[len(construction) :]
        lookups = setup.lookup_times(warm_runs) if mode is not None else []
        rows.append(
            (
                str(mode),
                f"{cold * 1000:.0f}",
                f"{construction[0] * 1000:.0f}",
                ms(warm),
                ms(construction[1:]),
                ms(lookups),
                ms([inner for inner, _ in sub]),
                ms(construction_sub),
                ms([wall for _, wall in sub]),
                f"{warm_runs} / {sub_runs}",
                f"{load} -> {_load()}",
            )
        )
        print(f"{mode}: done", file=sys.stderr, flush=True)
        if mode is not None:
            stored = list((setup.dags_dir / ".dlt_parse_cache").glob("*.json")) if mode == "file" else []
            if stored:
                print(
                    f"file entry: {json.dumps(json.loads(stored[0].read_text()))[:300]}...", file=sys.stderr
                )

    print(
        f"factory sleep {SLEEP_SECONDS} s, {RESOURCES} resources + 1 transformer, decompose=parallel-isolated"
    )
    header = (
        "parse_cache | cold DagBag ms | cold DltTaskGroup ms | warm DagBag ms (in-process) | "
        "warm DltTaskGroup ms (in-process) | of which cache lookup ms | warm DagBag ms (subprocess) | warm DltTaskGroup ms (subprocess) | "
        "subprocess wall ms | warm runs (in-process / subprocess) | load avg before -> after"
    )
    print("| " + header + " |")
    print("|" + "---|" * len(header.split("|")))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
