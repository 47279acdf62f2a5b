"""The install matrix (resolution only, needs the package index): see ``install_matrix.py``."""

from __future__ import annotations

import json

import install_matrix as m
import pytest

pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def matrix() -> m.Matrix:
    result = m.run()
    print(f"\ninstall matrix: {result.resolutions} resolutions in {result.seconds:.0f} s")
    print(m.status_table(result))
    return result


def test_every_platform_installs_with_at_most_the_documented_edits(matrix: m.Matrix) -> None:
    failing = {key: cell for key, cell in matrix.cells.items() if cell.status() == "does not install"}
    assert not failing, "\n\n".join(
        f"Airflow {version} [{extra}] does not install with the edits of tests/system/install/mwaa_edits.json "
        f"(regenerate them: python tests/system/install/install_matrix.py --write):\n"
        f"{matrix.errors.get(version, '')[-2000:]}"
        for (version, extra) in failing
    )


def test_the_documented_edits_are_only_what_dlt_needs(matrix: m.Matrix) -> None:
    """An edit changes a pinned package only where the install has to move it (Composer's list)."""
    documented = m.load_edits()
    for platform in m.PLATFORMS:
        needed = set(matrix.union_changes[platform.key])
        extra_edits = set(documented.get(platform.key, {})) - needed
        assert not extra_edits, f"Airflow {platform.airflow}: edits no install needs: {sorted(extra_edits)}"


def test_the_newest_airflow_installs_as_published(matrix: m.Matrix) -> None:
    """Where the platform's pins meet dlt's needs, nothing is edited (and common-compat never is)."""
    newest = m.PLATFORMS[-1]
    assert all(matrix.cells[(newest.key, extra)].published for extra in m.EXTRAS)
    for moved in matrix.union_changes.values():
        assert "apache-airflow-providers-common-compat" not in moved


def test_constraints_copies_name_their_source() -> None:
    for platform in m.PLATFORMS:
        text = platform.path.read_text()
        assert "github.com/aws/amazon-mwaa-docker-images/blob/" in text
        assert platform.source_url().startswith(
            "https://raw.githubusercontent.com/apache/airflow/constraints-"
        )
        assert f"constraints-{platform.airflow}/constraints-{platform.python}.txt" in platform.source_url()
        assert m.read_pins(text)["apache-airflow-providers-common-compat"]


def test_the_mwaa_guide_lists_the_edits_of_the_matrix() -> None:
    """The guide's table is rendered from mwaa_edits.json, the file this matrix checks: no edit by hand."""
    data = json.loads(m.EDITS_FILE.read_text())
    assert set(data["platforms"]) == {p.key for p in m.PLATFORMS}
    assert m.generated_section(m.MWAA_DOC) == m.edits_section(data).strip()
    for version, entry in data["platforms"].items():
        for name, new in entry["edits"].items():
            assert f"`{name}=={new}`" in m.MWAA_DOC.read_text(), (version, name)


def test_edited_constraints_change_only_the_listed_lines() -> None:
    platform = m.PLATFORMS[0]
    text = platform.path.read_text()
    after = m.edited(text, {"jsonpath-ng": "9.9.9"})
    before_pins, after_pins = m.read_pins(text), m.read_pins(after)
    assert after_pins.pop("jsonpath-ng") == "9.9.9"
    before_pins.pop("jsonpath-ng")
    assert after_pins == before_pins
