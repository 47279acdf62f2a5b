"""A worker killed after a load job committed but before dlt recorded it: the retry loads every row once.

The first attempt runs in a subprocess whose dlt exits (``os._exit``, as SIGKILL would) at the instant dlt
writes the "committed" marker of the nested table's job: its rows are in the destination, its file is
still a started job. The second attempt (same working directory, as an Airflow retry on the same worker)
goes through the task runtime (``pipeline_run.run``), which asks the destination which jobs committed
(``evidence.job_committed``: first ``_dlt_id`` and this package's ``_dlt_load_id``). Without it, PostgreSQL rejects the replay on the
unique ``_dlt_id`` index on every retry, and DuckDB silently holds the rows twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid

import pytest

ORDERS, LINES_PER_ORDER = 40, 3

ATTEMPT = (
    textwrap.dedent(
        """
    import json, os, sys
    from pathlib import Path
    import dlt
    from airflow_dlt_provider.authoring.sources import resolve_source_spec
    from airflow_dlt_provider.runtime import pipeline_run

    work, kind, target, disposition, kill = sys.argv[1:6]

    @dlt.resource(name="orders", write_disposition=disposition, primary_key="id")
    def orders():
        yield [{"id": n, "lines": [{"sku": n * 10 + k} for k in range(__LINES__)]} for n in range(__ORDERS__)]

    if kill == "kill":
        from dlt.common.storages.load_package import PackageStorage

        original = PackageStorage.save_pending_transition

        def stop_after_commit(self, load_id, file_name, state, failed_message=None):
            if file_name.startswith("orders__lines."):
                os._exit(137)
            return original(self, load_id, file_name, state, failed_message)

        PackageStorage.save_pending_transition = stop_after_commit

    factory = dlt.destinations.postgres if kind == "postgres" else dlt.destinations.duckdb
    request = pipeline_run.RunRequest(
        source=resolve_source_spec(orders),
        pipeline_name="commit_gap",
        destination=factory(target),
        dataset_name="shop",
        working_dir=Path(work),
    )
    summary = pipeline_run.run(request)
    print("OUTCOME " + json.dumps({"rows": summary["rows"]}))
    """
    )
    .replace("__ORDERS__", str(ORDERS))
    .replace("__LINES__", str(LINES_PER_ORDER))
)


def _attempt(tmp_path, kind: str, target: str, disposition: str, kill: bool) -> subprocess.CompletedProcess:
    script = tmp_path / "attempt.py"
    script.write_text(ATTEMPT)
    args = [str(tmp_path / "work"), kind, target, disposition, "kill" if kill else "no"]
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )


def _killed_then_retried(tmp_path, kind: str, target: str, disposition: str) -> subprocess.CompletedProcess:
    first = _attempt(tmp_path, kind, target, disposition, kill=True)
    assert first.returncode == 137, first.stdout[-3000:] + first.stderr[-3000:]
    started = list((tmp_path / "work").glob("commit_gap/load/normalized/*/started_jobs/orders__lines.*"))
    assert started, "the killed attempt left no started job: the fault was not injected where intended"
    second = _attempt(tmp_path, kind, target, disposition, kill=False)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "marked completed, not loaded again" in second.stdout + second.stderr
    return second


@pytest.mark.postgres
@pytest.mark.parametrize("disposition", ["append", "merge"])
def test_postgres_job_committed_before_the_kill_is_not_loaded_again(tmp_path, postgres_server, disposition):
    dbname = f"gap_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(dbname)
    _killed_then_retried(tmp_path, "postgres", postgres_server.dsn(dbname), disposition)

    def one(sql: str) -> tuple:
        return postgres_server.execute(sql, dbname=dbname)[0]

    assert one("SELECT count(*), count(DISTINCT id) FROM shop.orders") == (ORDERS, ORDERS)
    lines = ORDERS * LINES_PER_ORDER
    assert one("SELECT count(*), count(DISTINCT sku) FROM shop.orders__lines") == (lines, lines)
    assert one("SELECT count(*) FROM shop._dlt_loads WHERE status = 0") == (1,)


def test_duckdb_job_committed_before_the_kill_is_not_loaded_again(tmp_path):
    import duckdb

    database = tmp_path / "gap.duckdb"
    _killed_then_retried(tmp_path, "duckdb", str(database), "append")
    with duckdb.connect(str(database), read_only=True) as conn:
        orders = conn.execute("SELECT count(*), count(DISTINCT id) FROM shop.orders").fetchone()
        lines = conn.execute("SELECT count(*), count(DISTINCT sku) FROM shop.orders__lines").fetchone()
    assert orders == (ORDERS, ORDERS)
    assert lines == (ORDERS * LINES_PER_ORDER, ORDERS * LINES_PER_ORDER)


def test_a_lookup_that_fails_is_a_warning_that_says_rows_may_be_loaded_twice(tmp_path):
    """When the destination cannot say whether a started job committed, the retry warns (not DEBUG)."""
    import duckdb

    database = tmp_path / "gap.duckdb"
    first = _attempt(tmp_path, "duckdb", str(database), "append", kill=True)
    assert first.returncode == 137, first.stdout[-3000:] + first.stderr[-3000:]
    with duckdb.connect(str(database)) as conn:  # the lookup of the started job's first row now fails
        conn.execute('ALTER TABLE shop.orders__lines RENAME COLUMN "_dlt_id" TO dlt_id_elsewhere')
    second = _attempt(tmp_path, "duckdb", str(database), "append", kill=False)
    output = second.stdout + second.stderr
    assert "could not look up the first row of load job orders__lines." in output, output[-3000:]
    assert "so table 'orders__lines' may hold repeated rows" in output


def test_job_files_give_the_first_row_id(tmp_path):
    """The reader behind the reconciliation, on the formats dlt writes for SQL destinations."""
    import gzip

    from airflow_dlt_provider.runtime.job_files import first_row_value

    insert_values = tmp_path / "t.abc.0.insert_values"
    with gzip.open(insert_values, "wt") as handle:
        handle.write(
            "INSERT INTO {}(\"name\",\"_dlt_id\")\nVALUES\n(E'a, ''b''\\\\',E'id1'),\n(NULL,E'id2');"
        )
    assert first_row_value(insert_values, "insert_values", "_dlt_id") == "id1"
    assert first_row_value(insert_values, "insert_values", "name") == "a, 'b'\\"
    assert first_row_value(insert_values, "insert_values", "missing") is None

    jsonl = tmp_path / "t.abc.0.jsonl"
    jsonl.write_text(json.dumps({"_dlt_id": "j1"}) + "\n" + json.dumps({"_dlt_id": "j2"}) + "\n")
    assert first_row_value(jsonl, "jsonl", "_dlt_id") == "j1"

    csv_file = tmp_path / "t.abc.0.csv"
    csv_file.write_text('name,_dlt_id\n"x,y",c1\n')
    assert first_row_value(csv_file, "csv", "_dlt_id") == "c1"
    assert first_row_value(csv_file, "reference", "_dlt_id") is None
