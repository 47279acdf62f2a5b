"""The GitHub sample the example DAGs load (``dags_examples/data``), and the rows loading it must produce."""

from __future__ import annotations

import gzip
import json
from collections import Counter

from support import EXAMPLES_DIR

SAMPLE_PATH = EXAMPLES_DIR / "data" / "github_sample.jsonl.gz"

__all__ = ["EXAMPLES_DIR", "SAMPLE_PATH", "expected_sample_counts"]


def expected_sample_counts(repos: set[str] | None = None) -> dict[str, int]:
    """Rows per table that loading the sample (only ``repos``' issues, if given) must produce."""
    counts: Counter[str] = Counter()
    with gzip.open(SAMPLE_PATH, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["kind"] == "user":
                counts["users"] += 1
            elif repos is None or record["repo"] in repos:
                counts["issues"] += 1
                counts["issues__labels"] += len(record["labels"])
                counts["comments"] += len(record["comments"])
    return {table: n for table, n in counts.items() if n}
