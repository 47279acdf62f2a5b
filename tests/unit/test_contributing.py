"""CONTRIBUTING.md's "where things live" table matches the package: every folder and top-level module is in it,
and every module it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


TESTS = ROOT / "tests"
TIERS = ("unit", "integration", "system")


def test_every_test_module_lives_in_a_tier_and_its_name_is_unique():
    modules = sorted(TESTS.rglob("test_*.py"))
    outside = [str(p.relative_to(TESTS)) for p in modules if p.relative_to(TESTS).parts[0] not in TIERS]
    assert outside == []
    names = [p.name for p in modules]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_one_conftest_and_support_is_a_package():
    assert [str(p.relative_to(TESTS)) for p in TESTS.rglob("conftest.py")] == ["conftest.py"]
    folders = [p for p in (TESTS / "support").rglob("*") if p.is_dir() and p.name != "__pycache__"]
    assert all((p / "__init__.py").is_file() for p in [TESTS / "support", *folders])


def test_the_makefile_selects_tiers_not_files():
    """The stages of ``make test`` name tier folders (or their subfolders), never a list of test files."""
    makefile = (ROOT / "Makefile").read_text()
    assert re.findall(r"tests/[\w/]*test_\w+\.py", makefile) == []


def test_every_module_of_a_folder_is_named_in_its_row():
    """A row names each module of its folder; the connection mappings are covered by "one module per system"
    when ``registry.py`` imports them."""
    registry = (PACKAGE / "connections" / "registry.py").read_text()
    unnamed = []
    for where, row in _table().items():
        if not where.endswith("/"):
            continue
        named = set(re.findall(r"`([a-z_]+\.py)`", row))
        for module in sorted((PACKAGE / where).glob("*.py")):
            if module.name == "__init__.py" or module.name in named:
                continue
            is_mapping = f"airflow_dlt_provider.connections.{module.stem} import" in registry
            if not ("one module per system" in row and is_mapping):
                unnamed.append(f"{where}{module.name}")
    assert unnamed == []
