"""Session set-up: a throwaway Airflow home with a migrated metadata DB, before Airflow is imported."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="adp-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
DAGS_FOLDER = _AIRFLOW_HOME / "dags"
DAGS_FOLDER.mkdir()
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["RUNTIME__DLT_TELEMETRY"] = "false"

# ``tests`` and ``dags_examples`` are on sys.path through pytest's ``pythonpath`` (pyproject.toml)
from support import TESTS_DIR  # noqa: E402
from support.airflow_cluster import AirflowCluster, CeleryAirflowCluster  # noqa: E402
from support.postgres import PostgresServer, PostgresUnavailable  # noqa: E402
from support.redis import RedisServer, RedisUnavailable  # noqa: E402
from support.sample_data import expected_sample_counts  # noqa: E402

TIERS = ("unit", "integration", "system")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--deprecations-as-errors",
        action="store_true",
        help="fail on a DeprecationWarning or FutureWarning raised where airflow_dlt_provider calls Airflow or dlt",
    )


def pytest_configure(config: pytest.Config) -> None:
    # pyproject ignores DeprecationWarnings; this filter comes after it, so it wins for the warnings it matches.
    # Its module is the one a warning is attributed to -- the caller of the deprecated name, by the library's
    # stacklevel -- so a deprecated Airflow/dlt name the provider uses fails, while a deprecated name Airflow or
    # dlt use in their own code (e.g. dlt importing airflow.operators.python on Airflow 3) stays ignored.
    # FutureWarning too: Airflow 3 reports a moved import (`DeprecatedImportWarning`) as one.
    # Warnings raised in subprocesses (`airflow dags test`, the scheduler tests' cluster) are not seen here.
    if config.getoption("--deprecations-as-errors"):
        for category in ("DeprecationWarning", "FutureWarning"):
            config.addinivalue_line("filterwarnings", rf"error::{category}:airflow_dlt_provider(\..*)?$")


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> Path:
    """Migrate the session's metadata DB once (a real Airflow DB, as users have)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def airflow_home(airflow_db: Path) -> Path:
    return airflow_db


@pytest.fixture(scope="session")
def dags_folder(airflow_db: Path) -> Path:
    """The DAGs folder (the bundle ``dag.test()`` reads) of the test session."""
    return DAGS_FOLDER


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the session (see tests/support/postgres.py).

    A missing server is a test failure; set ADP_ALLOW_MISSING_POSTGRES=1 to skip instead (local machines).
    """
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as error:
        if os.environ.get("ADP_ALLOW_MISSING_POSTGRES") == "1":
            pytest.skip(f"PostgreSQL unavailable: {error}")
        pytest.fail(f"PostgreSQL unavailable (set ADP_ALLOW_MISSING_POSTGRES=1 to skip): {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def airflow_cluster(postgres_server: PostgresServer) -> Iterator[AirflowCluster]:
    """A real Airflow (LocalExecutor, PostgreSQL metadata DB), started once per session on first use.

    See tests/support/airflow_cluster.py for its API. ADP_KEEP_CLUSTER=1 keeps its files after the session.
    """
    cluster = AirflowCluster.start(postgres_server)
    try:
        yield cluster
    finally:
        cluster.stop()
        if os.environ.get("ADP_KEEP_CLUSTER") != "1":
            cluster.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A throwaway Redis (no persistence) for the session (see tests/support/redis.py).

    On CI (CI=true) a missing ``redis-server`` is a test failure; elsewhere the tests that need it are skipped.
    """
    try:
        server = RedisServer.start()
    except RedisUnavailable as error:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"Redis unavailable on CI: {error}")
        pytest.skip(f"Redis unavailable (CeleryExecutor tests need it): {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def celery_cluster(
    postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[CeleryAirflowCluster]:
    """A real Airflow 3 with the CeleryExecutor and two workers (see CeleryAirflowCluster), for one test
    module (stopped after it, so it does not idle beside the LocalExecutor cluster on a 2-core machine); its
    own metadata DB. ADP_KEEP_CLUSTER=1 keeps its files."""
    cluster = CeleryAirflowCluster.start(postgres_server, db_name="airflow_celery", redis=redis_server)
    assert isinstance(cluster, CeleryAirflowCluster)
    try:
        yield cluster
    finally:
        cluster.stop()
        if os.environ.get("ADP_KEEP_CLUSTER") != "1":
            cluster.cleanup()


@pytest.fixture(scope="session")
def sample_counts() -> dict[str, int]:
    """Rows per table that loading the whole shipped sample must produce (computed from the file)."""
    return expected_sample_counts()


@pytest.fixture
def make_conn(monkeypatch: pytest.MonkeyPatch):
    """Define an Airflow connection through ``AIRFLOW_CONN_<ID>`` (JSON form, the real lookup path).

    ``make_conn("postgres", host=..., password=..., extra={...})`` returns the new, unique conn id.
    """
    import uuid

    def make(conn_type: str, *, extra: dict | None = None, **fields: object) -> str:
        conn_id = f"t_{conn_type}_{uuid.uuid4().hex[:8]}"
        payload: dict = {"conn_type": conn_type, **fields}
        if extra is not None:
            payload["extra"] = extra
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))
        return conn_id

    return make


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _mark_tiers(items)
    _keep_fault_shard(config, items)


def _mark_tiers(items: list[pytest.Item]) -> None:
    """Mark each test with its folder's tier (``-m unit``, ``-m integration``, ``-m system``)."""
    for item in items:
        parts = item.path.relative_to(TESTS_DIR).parts
        if parts and parts[0] in TIERS:
            item.add_marker(parts[0])


def _keep_fault_shard(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fault matrix (tests/integration/faults): ``FAULTS_SHARD=i/n`` keeps every n-th matrix cell from the i-th, in the order of a hash of their ids
    (``make test-faults`` runs n shards side by side; the hash order spreads stores and destinations)."""
    shard = os.environ.get("FAULTS_SHARD")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    cells = sorted(
        (item for item in items if item.get_closest_marker("faults")),
        key=lambda item: hashlib.sha1(item.nodeid.encode()).hexdigest(),
    )
    dropped = {id(item) for n, item in enumerate(cells) if n % count != index}
    if dropped:
        config.hook.pytest_deselected(items=[item for item in items if id(item) in dropped])
        items[:] = [item for item in items if id(item) not in dropped]
