"""What the live progress journal costs per load job: a load with a ``file://`` ``[dlt] package_store`` (each
job dlt records is copied to ``<store>/<pipeline>/<binding>/progress/<load id>.json``, HMAC-signed, before dlt
goes on: ``runtime/journal.py``) vs the same load without a store.

For each repeat and each mode, in this process:

1. ``extract`` + ``normalize`` one package of ``--tables`` tables of ``--rows`` small rows each (``id``,
   ``name``, ``value``): one load job per table, the package a task loads (not timed);
2. ``load`` it into a fresh DuckDB file, timed: with the store inside ``journal.journaled(...)``, exactly as
   a task in its pipeline's pool loads; without, plain ``pipeline.load()``.

The journal's cost per job is the difference of the two load times divided by the jobs. The store's own
share is also measured directly: the time inside ``PackageStore.put_progress`` (signing + the ``*.tmp``
write + rename) and the size of each record written. A record lists every job completed so far, so it
grows with the package: the table gives its mean and its largest size. Modes are interleaved per repeat;
medians are reported. ``--store`` takes any fsspec URL (default: a ``file://`` folder in a temp dir).

    python bench/bench_journal.py [--tables 50,200] [--rows 5] [--repeats 5] [--store file:///mnt/shared]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# plain dlt outside a task: no Airflow Variable look-up per config key (not what the journal costs)
os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")
os.environ.setdefault("RUNTIME__DLT_TELEMETRY", "false")
# the records are signed with the workers' key (runtime/store_signing.py); any secret will do here
os.environ.setdefault("AIRFLOW__DLT__PACKAGE_STORE_KEY", uuid.uuid4().hex)


def _source(tables: int, rows: int) -> Any:
    import dlt

    def table(name: str) -> Any:
        def rows_of() -> Iterator[dict[str, Any]]:
            for i in range(rows):
                yield {"id": i, "name": f"{name}-{i}", "value": i * 7}

        return dlt.resource(rows_of(), name=name, write_disposition="append")

    @dlt.source(name="bench_journal")
    def many_tables() -> Any:
        return [table(f"t{n:04d}") for n in range(tables)]

    return many_tables()


class Recorder:
    """Wraps ``PackageStore.put_progress``: seconds inside it and bytes of every record written."""

    def __init__(self, store: Any) -> None:
        from airflow_dlt_provider.runtime.package_store import PROGRESS_FOLDER

        self.seconds = 0.0
        self.sizes: list[int] = []
        self.schema_update_sizes: list[int] = []  # the part of each record that is the applied schema update
        original = store.put_progress

        def put_progress(
            pipeline_name: str, binding_key: str, load_id: str, progress: dict[str, Any]
        ) -> None:
            started = time.perf_counter()
            original(pipeline_name, binding_key, load_id, progress)
            self.seconds += time.perf_counter() - started
            record = store.entry(pipeline_name, binding_key) / PROGRESS_FOLDER / f"{load_id}.json"
            self.sizes.append(record.stat().st_size)  # outside the timed part (and the journal's lock)
            applied = progress.get("applied_schema_update")
            self.schema_update_sizes.append(len(json.dumps(applied, sort_keys=True)) if applied else 0)

        object.__setattr__(store, "put_progress", put_progress)  # PackageStore is a frozen dataclass


def one_load(tables: int, rows: int, store_url: str | None, scratch: Path) -> dict[str, float]:
    """Seconds of the load of one ``tables``-job package (and, with a store, the journal's records)."""
    import dlt

    from airflow_dlt_provider.runtime import journal
    from airflow_dlt_provider.runtime.package_store import PackageStore

    name = f"bench_journal_{uuid.uuid4().hex[:8]}"
    pipeline = dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(scratch / name),
        destination=dlt.destinations.duckdb(credentials=str(scratch / f"{name}.duckdb")),
        dataset_name="bench",
    )
    pipeline.extract(_source(tables, rows))
    normalized = pipeline.normalize()
    (load_id,) = normalized.loads_ids
    jobs = len(pipeline.get_load_package_info(load_id).jobs["new_jobs"])
    result: dict[str, float] = dict.fromkeys(
        ("put_s", "records", "mean_b", "max_b", "schema_b", "written_mb"), 0.0
    )
    result["jobs"] = jobs
    if store_url is None:
        load_s, info = _timed(pipeline.load)
    else:
        store = PackageStore(store_url)
        recorder = Recorder(store)
        with journal.journaled(pipeline, store, name, "binding"):
            load_s, info = _timed(pipeline.load)
        result.update(
            put_s=recorder.seconds,
            records=len(recorder.sizes),
            mean_b=statistics.mean(recorder.sizes) if recorder.sizes else 0.0,
            max_b=max(recorder.sizes, default=0),
            schema_b=statistics.mean(recorder.schema_update_sizes) if recorder.sizes else 0.0,
            written_mb=sum(recorder.sizes) / 1e6,
        )
        store.remove(name, "binding")
    assert not info.has_failed_jobs, info
    pipeline.deactivate()
    result["load_s"] = load_s
    return result


def _timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="200", help="tables = load jobs of the package; a list: 50,200")
    parser.add_argument("--rows", type=int, default=5, help="rows per table")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--store", default=None, help="fsspec URL (default: a file:// temp folder)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.tables.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="bench_journal_") as tmp:
        scratch = Path(tmp)
        store_url = args.store or f"file://{scratch / 'store'}"
        modes = (("none", None), ("file://", store_url))
        one_load(5, 1, None, scratch)  # warm-up: imports, DuckDB
        print(f"{args.rows} rows per table, {args.repeats} repeats, medians")
        print(
            "| tables | store | load jobs | load s | per job ms | journal cost per job ms | put_progress per job ms "
            "| records per job | record bytes mean / max | of which schema update (mean) | written per load MB |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for tables in sizes:
            runs: dict[str, list[dict[str, float]]] = {label: [] for label, _ in modes}
            for repeat in range(args.repeats):
                for label, url in modes[repeat % 2 :] + modes[: repeat % 2]:  # interleaved, alternating first
                    runs[label].append(one_load(tables, args.rows, url, scratch))
            med = {
                label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()
            }
            base = med["none"]
            for label, _ in modes:
                m = med[label]
                jobs = m["jobs"]
                store = m is not base
                cost = f"{1000 * (m['load_s'] - base['load_s']) / jobs:.2f}" if store else "-"
                put = f"{1000 * m['put_s'] / jobs:.2f}" if store else "-"
                per_job = f"{m['records'] / jobs:.1f}" if store else "-"
                size = f"{m['mean_b']:,.0f} / {m['max_b']:,.0f}" if store else "-"
                schema = f"{m['schema_b']:,.0f}" if store else "-"
                written = f"{m['written_mb']:.1f}" if store else "-"
                print(
                    f"| {tables} | {label} | {jobs:.0f} | {m['load_s']:.2f} | {1000 * m['load_s'] / jobs:.2f} | "
                    f"{cost} | {put} | {per_job} | {size} | {schema} | {written} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
