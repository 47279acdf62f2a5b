"""The deterministic data of the fault matrix: one source, two runs, one sink for the function destination.

Run 1 yields ids ``0..59`` with version ``v1``. Run 2 is a full snapshot that differs: ids ``0..49`` (every
third id changed to ``v2``), ids ``50..59`` gone (scd2 retires them, replace drops them) and new ids
``60..89``. Every account has a nested ``tags`` list (one or two items), so a child table
``accounts__tags`` exists. With ``DATA_WRITER__FILE_MAX_ITEMS`` at :data:`FILE_MAX_ITEMS` a load package
holds 2-3 jobs per table.

Faults the harness arms through the environment of the forked attempt:

- ``FAULTS_MID_EXTRACT=<marker file>``: the resource raises ``ConnectionError`` after half its rows (and
  appends a line to the marker file);
- ``FAULTS_SINK_PATH=<jsonl>``: where :func:`fault_sink` appends every row it receives;
- ``FAULTS_SINK_KILL_AFTER=<k>`` with ``FAULTS_SINK_COUNTER=<file>``: the sink exits the process
  (``os._exit(137)``, as SIGKILL would) right after delivering its k-th batch of the attempt.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import dlt

FILE_MAX_ITEMS = 40  # rows per load job file (the bound of "the job in flight")
SINK_BATCH_SIZE = 10  # rows per batch of the function destination (the bound of "the batch in flight")

RUN_1_IDS = list(range(0, 60))
RUN_2_IDS = list(range(0, 50)) + list(range(60, 90))

# write disposition name of the matrix -> the resource hint
DISPOSITIONS: dict[str, Any] = {
    "append": "append",
    "replace": "replace",
    "delete-insert": {"disposition": "merge", "strategy": "delete-insert"},
    "upsert": {"disposition": "merge", "strategy": "upsert"},
    "scd2": {"disposition": "merge", "strategy": "scd2"},
    "insert-only": {"disposition": "merge", "strategy": "insert-only"},
}


def account(account_id: int, run: int) -> dict[str, Any]:
    version = "v2" if run == 2 and account_id % 3 == 0 else "v1"
    tags = [f"t{account_id}-{version}"] + ([f"u{account_id}-{version}"] if account_id % 2 else [])
    return {
        "id": account_id,
        "name": f"account {account_id}",
        "version": version,
        "balance": account_id * 10 + (5 if version == "v2" else 0),
        "tags": tags,
    }


def rows_of_run(run: int) -> list[dict[str, Any]]:
    return [account(i, run) for i in (RUN_1_IDS if run == 1 else RUN_2_IDS)]


@dlt.source(name="faults")
def accounts_source(run: int = 1, disposition: str = "append") -> Any:
    """The matrix's source: resource ``accounts`` with the data of ``run`` and the write disposition."""

    def accounts() -> Iterator[dict[str, Any]]:
        rows = rows_of_run(int(run))
        marker = os.environ.get("FAULTS_MID_EXTRACT")
        for n, row in enumerate(rows):
            if marker and n == len(rows) // 2:
                with open(marker, "a") as handle:
                    handle.write("mid_extract\n")
                raise ConnectionError("fault injected: the source API went away in the middle of the extract")
            yield row

    # scd2 tracks whole rows (its _dlt_id is a row hash); every other disposition keys on id
    extra: dict[str, Any] = {} if disposition == "scd2" else {"primary_key": "id"}
    return dlt.resource(accounts, name="accounts", write_disposition=DISPOSITIONS[disposition], **extra)


@dlt.destination(
    batch_size=SINK_BATCH_SIZE, loader_file_format="typed-jsonl", name="fault_sink", max_table_nesting=1
)
def fault_sink(items: Any, table: Any) -> None:
    """Appends every row it receives to ``$FAULTS_SINK_PATH`` (one JSON object a line, with its table)."""
    path = os.environ["FAULTS_SINK_PATH"]
    with open(path, "a") as handle:
        for item in items:
            handle.write(json.dumps({"_table": table["name"], **item}, default=str) + "\n")
    kill_after = os.environ.get("FAULTS_SINK_KILL_AFTER")
    if kill_after:
        counter = os.environ["FAULTS_SINK_COUNTER"]
        with open(counter, "a") as handle:
            handle.write("b\n")
        with open(counter) as handle:
            delivered = len(handle.read().splitlines())
        if delivered >= int(kill_after):
            with open(os.environ["FAULTS_FIRED"], "a") as handle:
                handle.write(f"mid_load sink after {delivered} batch(es)\n")
            os._exit(137)
