"""Fixtures of the fault matrix: one workspace and one cache of clean twins per session, shards, results."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``FAULTS_SHARD=i/n`` keeps every n-th matrix cell from the i-th, in the order of a hash of their ids
    (``make test-faults`` runs n shards side by side; the hash order spreads stores and destinations)."""
    shard = os.environ.get("FAULTS_SHARD")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    cells = sorted(
        (item for item in items if item.get_closest_marker("faults")),
        key=lambda item: hashlib.sha1(item.nodeid.encode()).hexdigest(),
    )
    dropped = {id(item) for n, item in enumerate(cells) if n % count != index}
    if dropped:
        config.hook.pytest_deselected(items=[item for item in items if id(item) in dropped])
        items[:] = [item for item in items if id(item) not in dropped]


@pytest.fixture(scope="session")
def fault_workspace() -> Iterator[Path]:
    """Where the session's cells and clean twins keep their files (``FAULTS_KEEP=1`` keeps them)."""
    path = Path(tempfile.mkdtemp(prefix="adp-faults-"))
    try:
        yield path
    finally:
        if os.environ.get("FAULTS_KEEP") != "1":
            shutil.rmtree(path, ignore_errors=True)
