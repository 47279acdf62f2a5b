"""An offline dlt source over the GitHub-like sample shipped in ``data/github_sample.jsonl.gz``.

Tables: ``users``, ``issues`` (with the child table ``issues__labels``) and ``comments`` (a transformer
fed by ``issues``, so ``issues`` and ``comments`` always run in the same task).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt

SAMPLE_PATH = Path(__file__).resolve().parent / "data" / "github_sample.jsonl.gz"


def _records(path: str | Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


@dlt.source(name="github_sample")
def github_sample(data_path: str = str(SAMPLE_PATH), repos: list[str] | None = None) -> Any:
    """Users, issues and comments of a fictional GitHub organisation; ``repos`` filters the issues."""
    wanted_repos = set(repos) if repos else None

    @dlt.resource(primary_key="id", write_disposition="merge")
    def users() -> Iterator[dict[str, Any]]:
        yield from (r for r in _records(data_path) if r.pop("kind") == "user")

    @dlt.resource(primary_key="id", write_disposition="merge")
    def issues() -> Iterator[dict[str, Any]]:
        for record in _records(data_path):
            if record.pop("kind") != "issue":
                continue
            if wanted_repos is not None and record["repo"] not in wanted_repos:
                continue
            record.pop("comments")
            yield record

    @dlt.transformer(data_from=issues, primary_key="id", write_disposition="merge")
    def comments(issue: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for comment in _comments_by_issue(data_path).get(issue["number"], []):
            yield {**comment, "issue_number": issue["number"]}

    return users, issues, comments


_COMMENTS_CACHE: dict[str, dict[int, list[dict[str, Any]]]] = {}


def _comments_by_issue(data_path: str) -> dict[int, list[dict[str, Any]]]:
    if data_path not in _COMMENTS_CACHE:
        _COMMENTS_CACHE[data_path] = {
            r["number"]: r["comments"] for r in _records(data_path) if r["kind"] == "issue"
        }
    return _COMMENTS_CACHE[data_path]
