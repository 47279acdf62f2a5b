"""Regenerate dags_examples/data/github_sample.jsonl.gz: a deterministic GitHub-like data set.

Run: python scripts/make_sample_data.py. The file is committed; the examples and tests read it offline.
"""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "dags_examples" / "data" / "github_sample.jsonl.gz"
REPOS = ["airflow", "dlt", "cosmos", "superset", "arrow"]
LABELS = ["bug", "enhancement", "docs", "good first issue", "performance", "security", "question"]
N_USERS = 250
N_ISSUES = 2000


def main() -> None:
    rng = random.Random(20261125)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    users = [
        {
            "kind": "user",
            "id": i,
            "login": f"user{i:03d}",
            "site_admin": i % 50 == 0,
            "followers": rng.randint(0, 900),
        }
        for i in range(1, N_USERS + 1)
    ]
    records: list[dict] = list(users)
    for number in range(1, N_ISSUES + 1):
        created = start + timedelta(minutes=rng.randint(0, 60 * 24 * 300))
        comments = [
            {
                "id": number * 100 + c,
                "user_id": rng.randint(1, N_USERS),
                "body": f"comment {c} on issue {number}",
                "created_at": (created + timedelta(hours=c + 1)).isoformat(),
            }
            for c in range(rng.randint(0, 4))
        ]
        records.append(
            {
                "kind": "issue",
                "id": 10_000 + number,
                "number": number,
                "repo": rng.choice(REPOS),
                "title": f"Issue {number}: {rng.choice(['crash', 'typo', 'slow query', 'new API', 'flaky test'])}",
                "state": rng.choice(["open", "closed"]),
                "user_id": rng.randint(1, N_USERS),
                "created_at": created.isoformat(),
                "updated_at": (created + timedelta(days=rng.randint(0, 30))).isoformat(),
                "labels": [{"name": name} for name in rng.sample(LABELS, rng.randint(0, 3))],
                "reactions": {"total": rng.randint(0, 40), "plus_one": rng.randint(0, 20)},
                "comments": comments,
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
    print(f"wrote {len(records)} records to {OUT}")


if __name__ == "__main__":
    main()
