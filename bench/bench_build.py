"""Parse-time cost of turning an N-resource dlt source into Airflow tasks.

Builds the same source (N = resources + transformers; every fifth member is a transformer fed by the resource
before it) with dlt's ``PipelineTasksGroup.add_run(decompose="serialize")`` and with ``DltTaskGroup``
(``decompose="serialize"``), in one process, and prints a markdown table.

Both ``serialize`` and ``parallel-isolated`` of ``PipelineTasksGroup`` call ``DltSource.decompose("scc")``
(quadratic); ``serialize`` is compared because it is also ``DltTaskGroup``'s default and both build a chain.
Source creation is not timed (done before each measurement); each builder gets a fresh source and DAG.
The ``emit_assets=False`` column leaves out the per-task asset declaration of ``DltRunOperator``.

    python bench/bench_build.py [--sizes 10,100,1000,5000] [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="adp-bench-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("RUNTIME__DLT_TELEMETRY", "false")
# dlt would look config values up as Airflow Variables (one metadata DB query each); not what is measured
os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")

import dlt  # noqa: E402
import pendulum  # noqa: E402
from dlt.sources import DltSource  # noqa: E402

from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS  # noqa: E402

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG
else:
    from airflow import DAG

DEFAULT_SIZES = (10, 100, 1000, 5000)
ALWAYS_MEASURED = 1000
"""Sizes up to this are always measured for both builders (the N=1000 comparison is the target)."""


def make_source(n: int) -> DltSource:
    """``n`` members: resources ``r<i>``, and every fifth one a transformer ``t<i>`` fed by ``r<i-1>``."""
    members: list[Any] = []
    for i in range(n):
        if i % 5 == 4:
            parent = members[-1]

            @dlt.transformer(data_from=parent, name=f"t{i}")
            def child(item: Any) -> Any:
                yield item

            members.append(child)
        else:
            members.append(dlt.resource([{"id": i}], name=f"r{i}"))
    return DltSource(dlt.Schema("bench"), "bench", members)


def _dag(dag_id: str) -> Any:
    return DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)


def build_dlt_task_group(source: DltSource, emit_assets: bool = True) -> int:
    from airflow_dlt_provider import DltTaskGroup

    with _dag("bench_dlt_task_group") as dag:
        DltTaskGroup(
            "bench", source=source, pipeline_name="bench", decompose="serialize", emit_assets=emit_assets
        )
    return len(dag.tasks)


def build_dlt_task_group_without_assets(source: DltSource) -> int:
    return build_dlt_task_group(source, emit_assets=False)


def build_pipeline_tasks_group(source: DltSource) -> int:
    from dlt.helpers.airflow_helper import PipelineTasksGroup

    with _dag("bench_pipeline_tasks_group") as dag:
        group = PipelineTasksGroup("bench", use_data_folder=False, wipe_local_data=True)
        # the pipeline must be created after the group (it sets the working folder)
        pipeline = dlt.pipeline(pipeline_name="bench_ptg", destination="duckdb", dataset_name="bench")
        group.add_run(pipeline, source, decompose="serialize")
    return len(dag.tasks)


def timed(build: Callable[[DltSource], int], n: int) -> tuple[float, int]:
    source = make_source(n)
    gc.collect()
    started = time.perf_counter()
    tasks = build(source)
    return time.perf_counter() - started, tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated N values")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="skip PipelineTasksGroup above N=1000 when its quadratic estimate exceeds this",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    # warm-up: imports and first-use costs are not part of any measurement
    timed(build_dlt_task_group, 5)
    timed(build_pipeline_tasks_group, 5)

    rows = []
    last_ptg: tuple[int, float] | None = None
    for n in sizes:
        dtg_seconds, dtg_tasks = timed(build_dlt_task_group, n)
        bare_seconds, _ = timed(build_dlt_task_group_without_assets, n)
        estimate = last_ptg[1] * (n / last_ptg[0]) ** 2 if last_ptg else 0.0
        if n > ALWAYS_MEASURED and estimate > args.max_seconds:
            ptg_cell = f"skipped (estimated ~{estimate:.0f} s > {args.max_seconds:.0f} s)"
            ratio_cell = f"~{estimate / dtg_seconds:.0f}x (est.)"
            ptg_tasks: int | str = "-"
        else:
            ptg_seconds, ptg_tasks = timed(build_pipeline_tasks_group, n)
            last_ptg = (n, ptg_seconds)
            ptg_cell = f"{ptg_seconds:.3f}"
            ratio_cell = f"{ptg_seconds / dtg_seconds:.1f}x"
        rows.append(
            (
                n,
                ptg_cell,
                f"{dtg_seconds:.3f}",
                ratio_cell,
                f"{bare_seconds:.3f}",
                f"{ptg_tasks} / {dtg_tasks}",
            )
        )
        print(f"N={n}: done", file=sys.stderr, flush=True)

    print(
        "| N | PipelineTasksGroup s | DltTaskGroup s | ratio | DltTaskGroup, emit_assets=False s | tasks (PTG / DTG) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
