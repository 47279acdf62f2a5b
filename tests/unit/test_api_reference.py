"""docs/reference/api.md is exactly what scripts/gen_api_docs.py generates from the code, and complete."""

from __future__ import annotations

from support.scripts import load_script

import airflow_dlt_provider
from airflow_dlt_provider.operators.run import DltRunOperator


def _generator():
    return load_script("gen_api_docs")


def test_committed_reference_equals_generated_output():
    generator = _generator()
    assert generator.DOCS_PATH.read_text() == generator.render(), (
        "docs/reference/api.md is stale: run python scripts/gen_api_docs.py"
    )


def test_every_public_argument_has_a_docstring_line():
    assert _generator().missing_docs() == []


def test_every_name_of_the_package_root_is_in_the_reference():
    text = _generator().render()
    missing = [n for n in airflow_dlt_provider.__all__ if n != "__version__" and f"### `{n}`" not in text]
    assert missing == []


def test_template_fields_are_marked_templated_and_nothing_else_is():
    text = _generator().render()
    section = text.split("### `DltRunOperator`")[1].split("### `DltDiscoverOperator`")[0]
    rows = {line.split("`")[1]: line for line in section.splitlines() if line.startswith("| `")}
    templated = {name for name, line in rows.items() if line.endswith("(templated) |")}
    assert (
        templated
        == set(DltRunOperator.template_fields)
        == {
            "source_kwargs",
            "dataset_name",
            "destination_conn_id",
            "source_conn_ids",
        }
    )


def test_a_missing_param_line_is_reported(monkeypatch):
    generator = _generator()

    def undocumented(pipeline_name: str, colour: str = "blue") -> str:
        """Something.

        :param pipeline_name: the pipeline.
        """
        return pipeline_name

    import airflow_dlt_provider.pools.names as names

    monkeypatch.setattr(names, "pool_name_for", undocumented)
    assert generator.missing_docs() == ["airflow_dlt_provider.pools.names:pool_name_for(colour)"]
