"""`make demo`: run an example DAG through a real Airflow and print what it loaded into DuckDB.

Creates a throwaway Airflow home under .demo/, migrates its metadata DB, runs the DAG with
`airflow dags test`, then reads the task summaries (XCom) and the DuckDB file(s) they point at.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DAG_ID = "dlt_github_sample_group"


def demo_env(home: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags_examples"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "RUNTIME__DLT_TELEMETRY": "false",
        }
    )
    return env


def airflow(env: dict[str, str], log_file: Path, *args: str) -> None:
    with log_file.open("a") as log:
        completed = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, stdout=log, stderr=log)
    if completed.returncode != 0:
        tail = "\n".join(log_file.read_text().splitlines()[-40:])
        raise SystemExit(
            f"`airflow {' '.join(args)}` failed (exit {completed.returncode}); log tail:\n{tail}"
        )


def task_summaries(home: Path, dag_id: str) -> list[dict]:
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as con:
        rows = con.execute(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND key = 'return_value' ORDER BY task_id",
            (dag_id,),
        ).fetchall()
    summaries = []
    for _task_id, value in rows:
        if isinstance(value, bytes):
            value = value.decode()
        decoded = json.loads(value) if isinstance(value, str) else value
        if isinstance(decoded, str):  # stored as a JSON string of JSON on some versions
            decoded = json.loads(decoded)
        summaries.append(decoded)
    return summaries


def print_loaded_tables(summaries: list[dict]) -> None:
    from airflow_dlt_provider.runtime.workdir import default_duckdb_path
    from airflow_dlt_provider.testing.duckdb_run import dataset_row_counts

    datasets = sorted({(s["pipeline_name"], s["dataset_name"]) for s in summaries})
    loaded_now: dict[str, int] = {}
    for summary in summaries:
        for table, count in summary["rows"].items():
            loaded_now[table] = loaded_now.get(table, 0) + count
    for pipeline_name, dataset_name in datasets:
        path = default_duckdb_path(pipeline_name)
        counts = dataset_row_counts(path, dataset_name)
        width = max(len("table"), *(len(t) for t in counts))
        print(f"\nDuckDB file: {path}")
        print(f"dataset:     {dataset_name}  (pipeline {pipeline_name})\n")
        print(f"{'table'.ljust(width)}  {'rows':>8}  {'loaded by this run':>18}")
        print(f"{'-' * width}  {'-' * 8}  {'-' * 18}")
        for table, count in counts.items():
            print(f"{table.ljust(width)}  {count:>8}  {loaded_now.get(table, ''):>18}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dag-id", default=DEFAULT_DAG_ID)
    parser.add_argument("--home", type=Path, default=REPO / ".demo" / "airflow-home")
    args = parser.parse_args()

    home: Path = args.home
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = demo_env(home)
    os.environ.update(env)
    log_file = home / "demo.log"

    started = time.monotonic()
    print(f"Airflow home: {home} (log: {log_file})")
    print("Migrating the Airflow metadata DB ...")
    airflow(env, log_file, "db", "migrate")
    print(f"Running DAG {args.dag_id!r} with `airflow dags test` ...")
    airflow(env, log_file, "dags", "test", args.dag_id)
    summaries = task_summaries(home, args.dag_id)
    if not summaries:
        raise SystemExit(f"DAG {args.dag_id!r} ran but recorded no dlt summaries; see {log_file}")
    print(
        f"DAG {args.dag_id!r} succeeded: {len(summaries)} dlt task(s) in {time.monotonic() - started:.0f} s"
    )
    print_loaded_tables(summaries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
