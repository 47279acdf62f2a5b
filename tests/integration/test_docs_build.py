"""The documentation site builds with ``mkdocs build --strict`` (broken links, missing pages and API
reference errors fail it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "mkdocs", reason="mkdocs is not installed here (the docs extra is installed into the Airflow 3 venv only)"
)
pytest.importorskip("material", reason="mkdocs-material is not installed here (docs extra)")

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    api = (site / "reference" / "api" / "index.html").read_text()
    for name in ("DltTaskGroup", "DltRunOperator", "DltHook", "assert_dlt_pools_declared"):
        assert name in api, f"{name} missing from the API reference"
    assert "decompose" in api, "the DltTaskGroup docstring is rendered"
    for page in ("quickstart", "docker-compose", "testing", "deploy/composer", "deploy/mwaa", "benchmarks"):
        assert (site / page / "index.html").is_file(), page
    assert "Figures" in (site / "benchmarks" / "index.html").read_text()


def test_the_documentation_url_airflow_links_is_where_the_site_is_published():
    """Airflow 3's Admin > Providers links the package's Project-URL "Documentation"; the site publishes there
    (mkdocs ``site_url``), and its home page is a page the build makes."""
    import tomllib
    import yaml

    urls = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["urls"]
    site_url = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text().split("\ntheme:")[0])["site_url"]
    assert urls["Documentation"] == site_url
    assert (REPO_ROOT / "docs" / "index.md").is_file()
