"""``airflow-dlt pools sync|export`` against the session's metadata DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS
from airflow_dlt_provider.cli import main as cli
from airflow_dlt_provider.pools.sync import create_pool, existing_pools

DAG_FILE = """\
import dlt
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltRunOperator, DltTaskGroup
try:
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:
    from airflow.operators.empty import EmptyOperator


@dlt.source
def tiny():
    raise AssertionError("not called at parse time")


with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    DltTaskGroup("iso", source=tiny, pipeline_name="{p}_iso", resources=["a", "b"], decompose="parallel-isolated")
    DltTaskGroup("ser", source=tiny, pipeline_name="{p}_ser", resources=["a", "b"])
    DltRunOperator(task_id="custom", source=tiny, pipeline_name="{p}_c", pool="{p}_custom", pool_slots=3)
    DltRunOperator(task_id="plain", source=tiny, pipeline_name="{p}_plain", pool=None)
    EmptyOperator(task_id="not_dlt", pool="{p}_not_dlt")
"""


@pytest.fixture
def dags(tmp_path: Path) -> tuple[Path, str]:
    """A DAGs folder with dlt tasks using fresh pool names; returns (folder, name prefix)."""
    prefix = f"cli_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / f"{prefix}.py").write_text(DAG_FILE.format(dag_id=f"dag_{prefix}", p=prefix))
    return folder, prefix


def _subprocess_env() -> dict[str, str]:
    """The session's Airflow env; a fresh interpreter importing Airflow + dlt on a busy machine may need
    longer than Airflow's default 30 s DAG file import timeout."""
    return {**os.environ, "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300"}


def _expected(prefix: str) -> dict[str, int]:
    return {
        f"dlt_{prefix}_iso__a": 1,
        f"dlt_{prefix}_iso__b": 1,
        f"dlt_{prefix}_ser": 1,
        f"{prefix}_custom": 3,
    }


def _pools(prefix: str) -> dict[str, int]:
    return existing_pools([*_expected(prefix), f"{prefix}_not_dlt", f"dlt_{prefix}_plain"])


def test_sync_creates_missing_pools_once_and_keeps_existing_ones(dags, capsys):
    folder, prefix = dags
    create_pool(f"dlt_{prefix}_ser", 1, "made by hand")

    assert cli.main(["pools", "sync", "--dags-folder", str(folder)]) == 0
    first = capsys.readouterr().out
    assert _pools(prefix) == _expected(prefix)
    assert f"created   dlt_{prefix}_iso__a (1 slot)" in first
    assert f"created   {prefix}_custom (3 slots)" in first
    assert f"exists    dlt_{prefix}_ser (1 slot), as needed" in first
    assert "4 pool(s) used by dlt tasks in 1 DAG(s): 3 created, 1 already there" in first

    assert cli.main(["pools", "sync", "--dags-folder", str(folder)]) == 0
    second = capsys.readouterr().out
    assert "0 created, 4 already there" in second
    assert _pools(prefix) == _expected(prefix)


def test_sync_reports_pools_with_other_slots_and_fix_sets_them(dags, capsys):
    """A pipeline pool raised to 5 slots (two tasks of one pipeline at once) and a custom one too small."""
    from airflow.models.pool import Pool

    folder, prefix = dags
    create_pool(f"dlt_{prefix}_ser", 5, "raised by hand to speed things up")
    create_pool(f"{prefix}_custom", 2, "too small for pool_slots=3")

    assert cli.main(["pools", "sync", "--dags-folder", str(folder)]) == 1
    report = capsys.readouterr()
    assert f"mismatch  dlt_{prefix}_ser has 5 slots, its dlt tasks need 1" in report.out
    assert f"mismatch  {prefix}_custom has 2 slots, its dlt tasks need 3" in report.out
    assert "2 created, 2 already there, 2 with other slots than needed" in report.out
    assert f"pool dlt_{prefix}_ser: the extra slots let tasks of one pipeline start together" in report.err
    assert f"pool {prefix}_custom: a task that needs more will never be scheduled" in report.err
    assert "--fix" in report.err
    assert _pools(prefix) == {**_expected(prefix), f"dlt_{prefix}_ser": 5, f"{prefix}_custom": 2}

    assert cli.main(["pools", "sync", "--fix", "--dry-run", "-d", str(folder)]) == 0
    assert f"would set dlt_{prefix}_ser from 5 slots to 1" in capsys.readouterr().out
    assert _pools(prefix) == {**_expected(prefix), f"dlt_{prefix}_ser": 5, f"{prefix}_custom": 2}

    assert cli.main(["pools", "sync", "--fix", "-d", str(folder)]) == 0
    fixed = capsys.readouterr().out
    assert f"set       dlt_{prefix}_ser from 5 slots to 1" in fixed
    assert f"set       {prefix}_custom from 2 slots to 3" in fixed
    assert "0 created, 4 already there, 2 set" in fixed
    assert _pools(prefix) == _expected(prefix)
    assert Pool.get_pool(f"dlt_{prefix}_ser").description == "raised by hand to speed things up"

    assert cli.main(["pools", "sync", "-d", str(folder)]) == 0
    assert "mismatch" not in capsys.readouterr().out


def test_dry_run_creates_nothing(dags, capsys):
    folder, prefix = dags
    assert cli.main(["pools", "sync", "--dry-run", "-d", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"would create dlt_{prefix}_ser (1 slot)" in out
    assert _pools(prefix) == {}


def test_export_is_what_airflow_pools_import_reads(dags, tmp_path):
    folder, prefix = dags
    target = tmp_path / "pools.json"
    assert cli.main(["pools", "export", "--dags-folder", str(folder), "-o", str(target)]) == 0
    document = json.loads(target.read_text())
    assert set(document) == set(_expected(prefix))
    for name, slots in _expected(prefix).items():
        entry = document[name]
        assert set(entry) == {"slots", "description", "include_deferred"}
        assert entry["slots"] == slots
        assert entry["include_deferred"] is False
        assert f"dag_{prefix}" in entry["description"]
    assert _pools(prefix) == {}  # export writes nothing to the DB


def test_dags_folder_with_a_broken_file_reports_it_and_exits_non_zero(dags, capsys):
    folder, prefix = dags
    (folder / "broken.py").write_text("from airflow import DAG\nraise RuntimeError('boom')\n")
    assert cli.main(["pools", "sync", "-d", str(folder)]) == 1
    captured = capsys.readouterr()
    assert "broken.py failed to import" in captured.err
    assert "boom" in captured.err
    assert _pools(prefix) == _expected(prefix)  # the good file's pools are still created


@pytest.mark.slow
def test_console_script(dags):
    folder, prefix = dags
    script = Path(sys.executable).with_name("airflow-dlt")
    done = subprocess.run(
        [str(script), "pools", "sync", "--dags-folder", str(folder)],
        capture_output=True,
        text=True,
        env=_subprocess_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "3 created" not in done.stdout
    assert "4 pool(s) used by dlt tasks in 1 DAG(s): 4 created, 0 already there" in done.stdout
    assert _pools(prefix) == _expected(prefix)


@pytest.mark.slow
@pytest.mark.skipif(
    not AIRFLOW_V_3_0_PLUS, reason="providers add `airflow <group>` commands from Airflow 3 on"
)
def test_airflow_dlt_subcommand(dags, tmp_path):
    folder, prefix = dags
    script = Path(sys.executable).with_name("airflow")
    target = tmp_path / "exported.json"
    done = subprocess.run(
        [str(script), "dlt", "pools", "export", "--dags-folder", str(folder), "-o", str(target)],
        capture_output=True,
        text=True,
        env=_subprocess_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(target.read_text())
    assert {name: entry["slots"] for name, entry in document.items()} == _expected(prefix)


def test_help_lists_the_pools_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["pools", "--help"])
    assert exit_info.value.code == 0
    out = textwrap.dedent(capsys.readouterr().out)
    assert "sync" in out and "export" in out
    with pytest.raises(SystemExit):
        cli.main(["pools", "sync", "--help"])
    assert "--fix" in capsys.readouterr().out
