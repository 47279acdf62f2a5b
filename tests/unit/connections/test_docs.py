"""docs/connections.md is exactly what scripts/gen_connection_docs.py generates from the mapping classes."""

from __future__ import annotations

from support.scripts import load_script

from airflow_dlt_provider.connections.registry import MAPPINGS


def _generator():
    return load_script("gen_connection_docs")


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
