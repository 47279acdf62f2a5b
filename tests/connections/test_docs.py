"""docs/connections.md is exactly what scripts/gen_connection_docs.py generates from the mapping classes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from airflow_dlt_provider.connections.registry import MAPPINGS

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_connection_docs.py"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_connection_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_reference_equals_generated_output():
    generator = _generator()
    assert generator.DOCS_PATH.read_text() == generator.render(), (
        "docs/connections.md is stale: run python scripts/gen_connection_docs.py"
    )


def test_reference_names_every_mapping_and_its_fields():
    text = _generator().render()
    for mapping in MAPPINGS:
        assert f"## `{mapping.name}`" in text
        for field in mapping.all_fields():
            assert f"| `{field}` |" in text
