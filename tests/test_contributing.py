"""CONTRIBUTING.md's "where things live" table matches the package: every folder and top-level module is in it,
and every module it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "airflow_dlt_provider"


def _table() -> dict[str, str]:
    text = (ROOT / "CONTRIBUTING.md").read_text().split("## Where things live")[1].split("\n## ")[0]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    return {row.split("`")[1]: row for row in rows}


def test_every_folder_and_top_level_module_has_a_row():
    entries = {f"{p.name}/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    entries |= {p.name for p in PACKAGE.glob("*.py")}
    assert sorted(entries - set(_table())) == []


def test_every_module_a_row_names_exists():
    missing = []
    for where, row in _table().items():
        if not where.endswith("/"):
            assert (PACKAGE / where).is_file(), where
            continue
        for module in re.findall(r"`([a-z_]+\.py)`", row):
            if not (PACKAGE / where / module).is_file():
                missing.append(f"{where}{module}")
    assert missing == []
