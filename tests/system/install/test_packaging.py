"""The package as users get it: build the wheel and sdist, check them, install the wheel into a clean venv."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import install_matrix as m
import pytest

pytestmark = pytest.mark.install


def _run(*command: str, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(m.uv_binary(), "build", "--quiet", "--out-dir", str(out), str(m.REPO_ROOT))
    return out


def test_wheel_and_sdist_pass_twine_check_and_ship_the_license(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    _run(sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "airflow_dlt_provider/settings.py" in names and "airflow_dlt_provider/py.typed" in names
    assert "License-Expression: Apache-2.0" in metadata
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Classifier: Programming Language :: Python :: {version}" in metadata
    assert "apache-airflow-providers-common-compat" not in metadata  # optional: the platforms' pin stays
    with tarfile.open(sdist) as archive:
        assert any(n.endswith("/LICENSE") for n in archive.getnames())


def test_the_wheel_in_a_clean_venv_is_a_provider_with_its_config(dist: Path, tmp_path: Path) -> None:
    """Installed from the wheel (no checkout), Airflow lists the provider and the [dlt] options."""
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    airflow = os.environ.get("INSTALL_TEST_AIRFLOW", "apache-airflow>=3.3.2,<3.4")
    _run(m.uv_binary(), "venv", "--quiet", "--python", sys.executable, str(venv))
    _run(
        m.uv_binary(),
        "pip",
        "install",
        "--quiet",
        "--python",
        str(venv / "bin" / "python"),
        str(wheel),
        airflow,
    )
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DLT__PACKAGE_STORE": "s3://bucket/dlt-packages",
    }
    providers = _run(str(venv / "bin" / "airflow"), "providers", "list", "-o", "plain", env=env)
    assert "airflow-dlt-provider" in providers
    airflow_cli = str(venv / "bin" / "airflow")
    config = _run(airflow_cli, "config", "list", "--section", "dlt", "--include-descriptions", env=env)
    assert "[dlt]" in config
    for option in ("base_dir", "working_dir", "package_store", "package_store_conn_id"):
        assert option in config
    assert "fsspec URL shared by all workers" in config  # the descriptions come from the provider metadata
    value = _run(airflow_cli, "config", "get-value", "dlt", "package_store", env=env)
    assert value.strip() == "s3://bucket/dlt-packages"  # read like any Airflow option (environment first)
