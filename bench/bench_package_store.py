"""What ``[dlt] package_store`` costs per task: the upload after a failed attempt and the download before the
next one, next to the dlt work around them, with a ``file://`` store vs no store.

For each size (rows of a generated flat source: ``id``, ``name``, ``value``) and repeat, in this process:

1. ``extract`` + ``normalize`` the rows into a pipeline folder (what an attempt that failed during its load
   leaves behind: one pending load package);
2. ``upload``: ``PackageStore.upload`` of that folder (tar to a ``*.tmp`` name, then rename), as every task
   in its pipeline's pool does once dlt has normalized, before the load (and again after a failure);
   ``download``: ``PackageStore.download`` into a fresh folder (another worker), as the attempt after a
   failure does;
3. ``load`` the pending package into DuckDB from the downloaded folder (with no store: from the original
   folder), as the next attempt does;
4. ``idle``: the store's cost for a task with nothing pending (the look-up that finds no entry + the removal
   of none), which every successful task of a pipeline pays.

A task that loads pays ``upload`` (+ ``idle``); a failed-and-resumed one also pays ``download`` on the next
attempt. Without a store both are zero (and the next attempt only resumes on the same worker). ``--store`` takes any fsspec URL (default: a ``file://``
folder in a temp dir); ``--sizes`` and ``--repeats`` keep runs short (10^6 rows take ~100 s per run here).

    python bench/bench_package_store.py [--sizes 10000,1000000] [--repeats 1] [--store file:///mnt/shared]
"""

from __future__ import annotations

import argparse
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
# plain dlt outside a task: no Airflow Variable look-up per config key (not what the store costs)
os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")

DEFAULT_SIZES = (10_000, 1_000_000)


def generated_rows(rows: int) -> Iterator[dict[str, Any]]:
    for i in range(rows):
        yield {"id": i, "name": f"name-{i}", "value": i * 7}


def _pipeline(name: str, folder: Path, duckdb_file: Path) -> Any:
    import dlt

    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(folder),
        destination=dlt.destinations.duckdb(credentials=str(duckdb_file)),
        dataset_name="bench",
    )


def _timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


BINDING = "bbench"  # the store entry's binding key (one destination and dataset)


def one_run(rows: int, store_url: str | None, scratch: Path) -> dict[str, float]:
    """Times (seconds) of one failed-then-resumed task of ``rows`` rows; ``store_url=None``: no store."""
    import dlt

    from airflow_dlt_provider.runtime.package_store import PackageStore

    name = f"bench_store_{uuid.uuid4().hex[:8]}"
    first, second = scratch / f"{name}_a", scratch / f"{name}_b"
    duckdb_file = scratch / f"{name}.duckdb"
    pipeline = _pipeline(name, first, duckdb_file)
    resource = dlt.resource(generated_rows(rows), name="items", write_disposition="append")
    extract_s, _ = _timed(lambda: pipeline.extract(resource))
    normalize_s, _ = _timed(lambda: pipeline.normalize())
    pipeline.deactivate()
    result = {"extract_s": extract_s, "normalize_s": normalize_s, "folder_mb": _folder_bytes(first) / 1e6}
    if store_url is None:
        resumed_in = first
        result.update(upload_s=0.0, download_s=0.0, idle_s=0.0)
    else:
        store = PackageStore(store_url)
        result["upload_s"], _ = _timed(lambda: store.upload(name, BINDING, first))
        result["download_s"], _ = _timed(lambda: store.download(name, BINDING, second, name))
        resumed_in = second
    resumed = _pipeline(name, resumed_in, duckdb_file)
    result["load_s"], info = _timed(lambda: resumed.load())
    assert not info.has_failed_jobs, info
    resumed.deactivate()
    if store_url is not None:
        store.remove(name, BINDING)
        result["idle_s"], _ = _timed(
            lambda: (store.download(name, BINDING, scratch / "none", name), store.remove(name, BINDING))
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--store", default=None, help="fsspec URL (default: a file:// temp folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp:
        scratch = Path(tmp)
        store_url = args.store or f"file://{scratch / 'store'}"
        print(
            "| rows | store | extract+normalize s | package MB | upload s | download s | load s | "
            "store cost s (upload+download) | cost / task time | idle task cost ms |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for rows in sizes:
            for label, url in (("none", None), ("file://", store_url)):
                runs = [one_run(rows, url, scratch) for _ in range(args.repeats)]
                med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                cost = med["upload_s"] + med["download_s"]
                task = med["extract_s"] + med["normalize_s"] + med["load_s"] + cost
                print(
                    f"| {rows:,} | {label} | {med['extract_s'] + med['normalize_s']:.2f} | "
                    f"{med['folder_mb']:.1f} | {med['upload_s']:.3f} | {med['download_s']:.3f} | "
                    f"{med['load_s']:.2f} | {cost:.3f} | {100 * cost / task:.1f}% | {1000 * med['idle_s']:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
