"""pytest plugin for users testing their own dlt DAGs (``pytest11`` entry point ``airflow_dlt``).

Loaded automatically once ``airflow-dlt-provider`` is installed. Options (command line or ini file):

``--dlt-dags-folder DIR`` / ini ``dlt_dags_folder``
    the project's DAGs folder (relative paths: from the rootdir). Default: Airflow's ``[core] dags_folder``.
``--dlt-pools-file FILE`` / ini ``dlt_pools_file``
    where the project declares its pools (``airflow pools export`` JSON or ``airflow_settings.yaml``).
ini ``dlt_airflow_home`` (``tmp`` or a folder)
    give the test session its own Airflow home with a SQLite metadata DB (migrated on first use) and the
    DAGs folder above; set before Airflow is imported.

Fixtures: ``dlt_dags_folder``, ``dlt_dagbag`` (the parsed folder; import errors fail with a readable
report), ``dlt_pools_file``, ``dlt_airflow_db``, ``dlt_run_dag`` and ``dlt_duckdb_run`` (run a DAG's dlt
tasks against a temporary DuckDB and read the summaries and row counts). Plain functions for your own
checks: ``airflow_dlt_provider.testing.assert_dlt_pools_declared`` and ``load_dag_folder``.

Imports nothing heavy at load time: Airflow reads ``AIRFLOW_HOME`` when it is first imported, and a
project's ``conftest.py`` must be able to set it first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_HOME_KEY = pytest.StashKey[Path]()
_SAVED_ENV_KEY = pytest.StashKey[dict[str, str | None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("airflow-dlt", "dlt DAGs (airflow-dlt-provider)")
    group.addoption("--dlt-dags-folder", default=None, help="DAGs folder the dlt fixtures read")
    group.addoption(
        "--dlt-pools-file", default=None, help="pools file (JSON export or airflow_settings.yaml)"
    )
    parser.addini(
        "dlt_dags_folder", "DAGs folder the dlt fixtures read (relative to the rootdir)", default=""
    )
    parser.addini(
        "dlt_pools_file", "file declaring the project's pools (relative to the rootdir)", default=""
    )
    parser.addini(
        "dlt_airflow_home",
        "'tmp' or a folder: the test session's own Airflow home with a SQLite metadata DB",
        default="",
    )


def _path_option(config: pytest.Config, option: str, ini: str) -> Path | None:
    value = config.getoption(option) or config.getini(ini)
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else config.rootpath / path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dlt: tests of dlt DAGs (airflow-dlt-provider)")
    home_option = str(config.getini("dlt_airflow_home") or "")
    if not home_option:
        return
    if "airflow" in sys.modules and "airflow.configuration" in sys.modules:
        raise pytest.UsageError(
            "dlt_airflow_home is set but Airflow was imported before the airflow-dlt plugin could set "
            "AIRFLOW_HOME (a conftest.py or plugin imports airflow at module level); import it inside "
            "fixtures/tests instead, or set AIRFLOW_HOME yourself and remove dlt_airflow_home"
        )
    if home_option == "tmp":
        home = Path(tempfile.mkdtemp(prefix="dlt-airflow-home-"))
    else:
        home = Path(home_option).expanduser()
        home = home if home.is_absolute() else config.rootpath / home
        home.mkdir(parents=True, exist_ok=True)
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "RUNTIME__DLT_TELEMETRY": "false",
    }
    dags_folder = _path_option(config, "dlt_dags_folder", "dlt_dags_folder")
    if dags_folder is not None:
        settings["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
    config.stash[_SAVED_ENV_KEY] = {key: os.environ.get(key) for key in settings}
    config.stash[_HOME_KEY] = home
    os.environ.update(settings)


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = config.stash.get(_SAVED_ENV_KEY, None)
    for key, value in (saved or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_report_header(config: pytest.Config) -> list[str]:
    home = config.stash.get(_HOME_KEY, None)
    return [f"airflow-dlt: Airflow home {home} (dlt_airflow_home)"] if home else []


@pytest.fixture(scope="session")
def dlt_dags_folder(pytestconfig: pytest.Config) -> Path:
    """The project's DAGs folder: ``--dlt-dags-folder``, ini ``dlt_dags_folder``, else Airflow's setting."""
    configured = _path_option(pytestconfig, "dlt_dags_folder", "dlt_dags_folder")
    if configured is not None:
        return configured
    from airflow_dlt_provider import _compat

    return Path(str(_compat.conf_get("core", "dags_folder")))


@pytest.fixture(scope="session")
def dlt_pools_file(pytestconfig: pytest.Config) -> Path | None:
    """The file declaring the project's pools (``--dlt-pools-file`` / ini ``dlt_pools_file``), or ``None``."""
    return _path_option(pytestconfig, "dlt_pools_file", "dlt_pools_file")


@pytest.fixture(scope="session")
def dlt_airflow_db(pytestconfig: pytest.Config) -> Path | None:
    """Migrate the session's own metadata DB once (with ``dlt_airflow_home``); otherwise use Airflow's as is."""
    home = pytestconfig.stash.get(_HOME_KEY, None)
    if home is None:
        return None
    process = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    if process.returncode != 0:
        pytest.fail(f"airflow db migrate failed in {home}:\n{process.stderr[-3000:]}", pytrace=False)
    return home


@pytest.fixture(scope="session")
def dlt_dagbag(dlt_dags_folder: Path) -> Any:
    """The ``DagBag`` of the DAGs folder; import errors fail the tests that use it, with a readable report."""
    from airflow_dlt_provider.exceptions import DagFolderImportError
    from airflow_dlt_provider.testing.checks import load_dag_folder

    try:
        return load_dag_folder(dlt_dags_folder)
    except DagFolderImportError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def dlt_run_dag(dlt_airflow_db: Path | None) -> Callable[..., Any]:
    """Run a DAG once through the configured metadata DB: ``dlt_run_dag(dag) -> DagTestResult``."""
    from airflow_dlt_provider.testing.dagrun import run_dag

    return run_dag


@pytest.fixture
def dlt_duckdb_run(dlt_airflow_db: Path | None, tmp_path: Path) -> Callable[..., Any]:
    """Run a DAG's dlt tasks against a temporary DuckDB: ``dlt_duckdb_run(dag) -> DuckDBRunResult``.

    Also accepts a DAG file path with ``dag_id=``. The result has ``state``, ``task_states``,
    ``summaries()`` (load summary per task) and ``row_counts()`` (rows per table in the DuckDB files).
    """
    from airflow_dlt_provider.testing.duckdb_run import run_with_duckdb

    counter = iter(range(1_000_000))

    def run(dag: Any, **kwargs: Any) -> Any:
        return run_with_duckdb(dag, tmp_path / f"dlt-{next(counter)}", **kwargs)

    return run
