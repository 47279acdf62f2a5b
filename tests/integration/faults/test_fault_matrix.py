"""The fault-injection matrix of issue 22 (see harness.py): every cell exactly once, or bounded and logged.

``make test`` runs the fixed sample (marker ``faults_sample``); ``make test-faults`` runs every cell and
writes the results behind ``docs/reliability.md``. One cell: ``pytest tests/integration/faults -k '<cell id>'``, e.g.
``-k before_load-duckdb-upsert-none``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.faults.harness import SAMPLE, Cell, CleanTwins, all_cells, append_result, preloaded, run_cell

pytestmark = [pytest.mark.timeout(1800)]


def _param(cell: Cell) -> object:
    marks = [pytest.mark.faults]
    if cell.id in SAMPLE:
        marks.append(pytest.mark.faults_sample)
    if cell.destination == "postgres":
        marks.append(pytest.mark.postgres)
    return pytest.param(cell, id=cell.id, marks=marks)


CELLS = all_cells()


@pytest.fixture(scope="session")
def fault_workspace() -> Iterator[Path]:
    """Where the session's cells and clean twins keep their files (``FAULTS_KEEP=1`` keeps them)."""
    path = Path(tempfile.mkdtemp(prefix="adp-faults-"))
    try:
        yield path
    finally:
        if os.environ.get("FAULTS_KEEP") != "1":
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def clean_twins(fault_workspace: Path, request: pytest.FixtureRequest) -> CleanTwins:
    return CleanTwins(fault_workspace, postgres=None)


def test_sample_covers_every_fault_destination_and_store() -> None:
    ids = {cell.id for cell in CELLS}
    assert ids >= SAMPLE, sorted(SAMPLE - ids)
    sample = [cell for cell in CELLS if cell.id in SAMPLE]
    assert {c.fault for c in sample} == {c.fault for c in CELLS}
    assert {c.destination for c in sample} == {c.destination for c in CELLS}
    assert {c.store for c in sample} == {c.store for c in CELLS}


@pytest.mark.parametrize("cell", [_param(cell) for cell in CELLS])
def test_cell(
    cell: Cell, fault_workspace: Path, clean_twins: CleanTwins, request: pytest.FixtureRequest
) -> None:
    postgres = request.getfixturevalue("postgres_server") if cell.destination == "postgres" else None
    clean_twins.postgres = postgres or clean_twins.postgres
    with preloaded():
        result = run_cell(cell, fault_workspace, clean_twins, postgres)
    results = os.environ.get("FAULTS_RESULTS")
    if results:
        append_result(Path(results), result)
    assert result.passed, f"{result.status}: {result.detail}\n" + json.dumps(result.attempts, indent=1)
