"""Import cost of ``airflow_dlt_provider`` and of provider discovery, each in fresh subprocesses.

Every measurement is a new Python process (so nothing is cached in ``sys.modules``), repeated ``--runs``
times; the table shows medians. Two kinds of figures:

- *in-process*: ``time.perf_counter()`` around the statement inside the child (what the import costs a
  process that runs it, e.g. a DAG processor or a worker);
- *process wall*: the whole child from ``exec`` to exit, compared with a child that does nothing
  (``python -c pass``), i.e. the import cost of the package vs nothing.

    python bench/bench_import.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

# (label, setup run before timing, statement timed)
CASES: tuple[tuple[str, str, str], ...] = (
    ("import airflow_dlt_provider", "", "import airflow_dlt_provider"),
    (
        "provider_info.get_provider_info() (alone, fresh process)",
        "",
        "from airflow_dlt_provider.provider_info import get_provider_info; get_provider_info()",
    ),
    (
        "provider_info.get_provider_info() (after import airflow, which already loads it)",
        "import airflow",
        "from airflow_dlt_provider.provider_info import get_provider_info; get_provider_info()",
    ),
    (
        "ProvidersManager().initialize_providers_list() (all providers, after import airflow)",
        "import airflow; from airflow.providers_manager import ProvidersManager",
        "ProvidersManager().initialize_providers_list()",
    ),
    ("import airflow (reference)", "", "import airflow"),
    ("import dlt (reference)", "", "import dlt"),
    (
        "from airflow_dlt_provider import DltTaskGroup (first use: imports Airflow, not dlt)",
        "",
        "from airflow_dlt_provider import DltTaskGroup",
    ),
)

CHILD = """
import time
{setup}
_t0 = time.perf_counter()
{statement}
print("T", time.perf_counter() - _t0)
"""


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "RUNTIME__DLT_TELEMETRY": "false",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONWARNINGS": "ignore",
    }


def timed_child(code: str) -> tuple[float, float]:
    """(seconds measured inside the child, wall seconds of the whole child process)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env())
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"child failed:\n{code}\n{result.stderr[-3000:]}")
    inner = [line for line in result.stdout.splitlines() if line.startswith("T ")]
    return (float(inner[-1][2:]) if inner else 0.0), wall


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}"


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)

    print(f"python {sys.version.split()[0]}; runs per figure: {args.runs} (medians); load before: {load()}")
    print()
    print("| what | in-process ms | process wall ms |")
    print("|---|---:|---:|")
    for label, setup, statement in CASES:
        inner, wall = [], []
        for _ in range(args.runs):
            i, w = timed_child(CHILD.format(setup=setup, statement=statement))
            inner.append(i)
            wall.append(w)
        print(f"| {label} | {median_ms(inner)} | {median_ms(wall)} |", flush=True)

    nothing = [timed_child("pass")[1] for _ in range(args.runs)]
    package = [timed_child("import airflow_dlt_provider")[1] for _ in range(args.runs)]
    print()
    print("| process | wall ms (median) |")
    print("|---|---:|")
    print(f"| python -c pass | {median_ms(nothing)} |")
    print(f"| python -c 'import airflow_dlt_provider' | {median_ms(package)} |")
    diff_ms = (statistics.median(package) - statistics.median(nothing)) * 1000
    print(f"| difference (import cost vs nothing) | {diff_ms:.1f} |")
    print()
    print(f"load after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
