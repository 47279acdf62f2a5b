"""``airflow dlt`` through the real ``airflow`` executable: every command listed (``init`` too), and ``airflow dlt
init`` scaffolding what ``airflow-dlt init`` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_dlt_provider.cli.commands import COMMANDS, INIT


def _airflow_reads_provider_cli() -> bool:
    from airflow.providers_manager import ProvidersManager

    return hasattr(ProvidersManager, "cli_command_functions")


needs_provider_cli = pytest.mark.skipif(
    not _airflow_reads_provider_cli(), reason="this Airflow does not read the provider info's `cli` key"
)

SCRIPT = """\
import dlt


@dlt.resource(primary_key="id")
def orders():
    yield [{"id": 1}, {"id": 2}]


@dlt.source
def shop():
    return orders


if __name__ == "__main__":
    dlt.pipeline(pipeline_name="shop", destination="duckdb", dataset_name="shop_data").run(shop())
"""


def _run(executable: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name(executable)), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )


@pytest.mark.slow
@needs_provider_cli
def test_airflow_dlt_help_lists_every_command_and_init_help_its_options(airflow_home):
    listed = _run("airflow", "dlt", "--help")
    assert listed.returncode == 0, listed.stderr
    for entry in COMMANDS:
        assert f"    {entry.name} " in listed.stdout, entry.name

    init_help = _run("airflow", "dlt", "init", "--help")
    assert init_help.returncode == 0, init_help.stderr
    for argument in INIT.arguments:
        shown = argument.metavar or argument.flags[0]
        assert shown in init_help.stdout, shown


@pytest.mark.slow
@needs_provider_cli
def test_airflow_dlt_init_scaffolds_like_airflow_dlt_init(airflow_home, tmp_path):
    script = tmp_path / "project" / "shop_pipeline.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)

    by_console_script = _run(
        "airflow-dlt", "init", script, "--dags-folder", tmp_path / "a", "--schedule", "none"
    )
    by_airflow = _run("airflow", "dlt", "init", script, "--dags-folder", tmp_path / "b", "--schedule", "none")

    assert by_console_script.returncode == by_airflow.returncode == 0, by_airflow.stderr
    assert by_airflow.stdout == by_console_script.stdout.replace(str(tmp_path / "a"), str(tmp_path / "b"))
    written = sorted(path.name for path in (tmp_path / "b").iterdir())
    assert (
        written
        == sorted(path.name for path in (tmp_path / "a").iterdir())
        == [
            "shop_pipeline.py",
            "shop_pipeline_dag.py",
        ]
    )
    for name in written:
        assert (tmp_path / "b" / name).read_text() == (tmp_path / "a" / name).read_text(), name
    assert "schedule=None," in (tmp_path / "b" / "shop_pipeline_dag.py").read_text()

    refused = _run("airflow", "dlt", "init", script, "--dags-folder", tmp_path / "b")
    assert refused.returncode == 2
    assert "already exists; pass --force" in refused.stderr


@pytest.mark.slow
def test_init_writes_into_the_dags_folder_airflow_cfg_names(tmp_path):
    """Without ``--dags-folder`` the DAG goes where the scheduler reads: ``[core] dags_folder`` of airflow.cfg."""
    home, configured = tmp_path / "home", tmp_path / "configured_dags"
    home.mkdir()
    configured.mkdir()
    (home / "airflow.cfg").write_text(f"[core]\ndags_folder = {configured}\n")
    script = tmp_path / "shop_pipeline.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__CORE__DAGS_FOLDER")}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow-dlt")), "init", str(script), "--schedule", "none"],
        capture_output=True,
        text=True,
        env={**env, "AIRFLOW_HOME": str(home)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (configured / "shop_pipeline_dag.py").is_file(), sorted(p.name for p in tmp_path.rglob("*.py"))
    assert not (home / "dags").exists()
