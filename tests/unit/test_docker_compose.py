"""Static checks of docker-compose.yaml and the Dockerfile (no Docker daemon here: we read the files).

The same topology (PostgreSQL metadata DB, api-server, scheduler, dag-processor, LocalExecutor, the execution
API URL) runs natively in the real-scheduler fixture, tests/support/airflow_cluster.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is in the test extra")

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
CELERY_WORKERS = ("airflow-worker-1", "airflow-worker-2")
CELERY_SERVICES = ("redis", *CELERY_WORKERS)
STORE_PATH = "/opt/airflow/dlt-store"
LONG_RUNNING = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


_DEFAULTED = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):-(?P<default>[^}]*)\}")


def _env(service: dict[str, Any], variables: dict[str, str] | None = None) -> dict[str, str]:
    """The service's environment as compose resolves it: ``${VAR:-default}`` takes ``variables`` or the default."""
    env = service.get("environment", {})
    if isinstance(env, list):  # the KEY=VALUE form
        env = dict(item.split("=", 1) for item in env)
    values = variables or {}

    def resolve(match: re.Match[str]) -> str:
        return values.get(match["name"], match["default"])

    return {key: _DEFAULTED.sub(resolve, str(value)) for key, value in env.items()}


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def _healthcheck(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def test_every_service_is_declared(services):
    assert set(services) == {"postgres", "warehouse", *AIRFLOW_SERVICES, *CELERY_SERVICES}


def test_only_the_celery_services_are_in_a_profile(services):
    for name, service in services.items():
        expected = ["celery"] if name in CELERY_SERVICES else None
        assert service.get("profiles") == expected, name


def test_postgres_services_have_pg_isready_health_checks(services):
    for name in ("postgres", "warehouse"):
        service = services[name]
        assert re.fullmatch(r"postgres:\d+(\.\d+)?", service["image"]), service["image"]
        env = _env(service)
        check = _healthcheck(service)
        assert "pg_isready" in check
        assert f"-U {env['POSTGRES_USER']}" in check
        assert service["volumes"], f"{name} keeps its data in a volume"


def test_airflow_services_share_image_executor_and_metadata_db(services):
    postgres_env = _env(services["postgres"])
    expected_url = (
        f"postgresql+psycopg2://{postgres_env['POSTGRES_USER']}:{postgres_env['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{postgres_env['POSTGRES_DB']}"
    )
    for name in (*AIRFLOW_SERVICES, *CELERY_WORKERS):
        service = services[name]
        env = _env(service)
        assert service["build"] == ".", name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        celery = _env(service, {"AIRFLOW_EXECUTOR": "CeleryExecutor"})
        assert celery["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == expected_url, name
        # the same signing key everywhere, or task tokens issued by one component fail in another
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"], name


def test_execution_api_url_points_at_the_api_server_service(services):
    api_port = services["airflow-apiserver"]["ports"][0].split(":")[-1]
    for name in AIRFLOW_SERVICES:
        url = _env(services[name])["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
        assert url == f"http://airflow-apiserver:{api_port}/execution/", name


def test_warehouse_connection_points_at_the_warehouse_service(services):
    warehouse = _env(services["warehouse"])
    expected = (
        f"postgres://{warehouse['POSTGRES_USER']}:{warehouse['POSTGRES_PASSWORD']}"
        f"@warehouse:5432/{warehouse['POSTGRES_DB']}"
    )
    for name in AIRFLOW_SERVICES:
        assert _env(services[name])["AIRFLOW_CONN_WAREHOUSE"] == expected, name


def test_dags_examples_is_the_mounted_dags_folder(services):
    for name in AIRFLOW_SERVICES:
        service = services[name]
        dags_folder = _env(service)["AIRFLOW__CORE__DAGS_FOLDER"]
        mounts = {m.split(":")[1]: m.split(":")[0] for m in service["volumes"]}
        assert mounts[dags_folder] == "./dags_examples", name
    source = REPO_ROOT / "dags_examples"
    assert source.is_dir()
    assert any(source.glob("*.py")), "the mounted DAGs folder holds the example DAGs"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose["volumes"])
    for name, service in services.items():
        for mount in service.get("volumes", []):
            host_side = mount.split(":")[0]
            if not host_side.startswith((".", "/")):
                assert host_side in declared, f"{name} mounts undeclared volume {host_side}"


def test_init_migrates_creates_login_and_syncs_pools(services):
    init = services["airflow-init"]
    script = _command(init)
    env = _env(init)
    steps = ["airflow db migrate", "simple_auth_manager_passwords", "airflow-dlt pools sync"]
    positions = [script.find(step) for step in steps]
    assert all(p >= 0 for p in positions), dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions), "migrate first, then the login, then the pools"
    assert "set -e" in script, "a failing step must fail the init service"
    # the login: simple auth manager users, and the passwords file the script writes
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].endswith(":admin")
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].endswith(
        "simple_auth_manager_passwords.json"
    )
    assert init.get("restart", "no") == "no"
    for dependency in ("postgres", "warehouse"):
        assert init["depends_on"][dependency]["condition"] == "service_healthy"


def test_passwords_file_is_shared_with_the_api_server(services):
    password_file = _env(services["airflow-apiserver"])["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    folder = str(Path(password_file).parent)
    for name in ("airflow-init", "airflow-apiserver"):
        mounts = [m.split(":")[1] for m in services[name]["volumes"]]
        assert folder in mounts, f"{name} must mount {folder}"


def test_long_running_services_commands_and_dependencies(services):
    for name, command in LONG_RUNNING.items():
        service = services[name]
        assert _command(service) == command, name
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert service.get("restart") == "always", name
        assert "healthcheck" in service, name
    # tasks (run by the LocalExecutor inside the scheduler) talk to the execution API
    assert services["airflow-scheduler"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_api_server_exposes_8080_with_health_check(services):
    api = services["airflow-apiserver"]
    assert "8080:8080" in api["ports"]
    assert "http://localhost:8080/api/v2/monitor/health" in _healthcheck(api)
    assert "localhost:8974/health" in _healthcheck(services["airflow-scheduler"])
    assert _env(services["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert "DagProcessorJob" in _healthcheck(services["airflow-dag-processor"])
    assert "TriggererJob" in _healthcheck(services["airflow-triggerer"])


def test_dockerfile_uses_airflow_33_and_installs_the_repo():
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"apache/airflow:3\.3\.\d+(-python3\.\d+)?", base.group(1)), base.group(1)
    version = re.search(r"ARG AIRFLOW_VERSION=(\S+)", text)
    assert version is not None and base.group(1).split(":")[1].startswith(version.group(1))
    assert re.search(r"^COPY .*pyproject\.toml", text, re.MULTILINE)
    assert re.search(r"^COPY .*airflow_dlt_provider", text, re.MULTILINE)
    logical_lines = text.replace("\\\n", " ").splitlines()
    install = [line for line in logical_lines if re.match(r"RUN\s+pip install", line)]
    assert len(install) == 1, install
    assert "apache-airflow==${AIRFLOW_VERSION}" in install[0], "pin Airflow so pip cannot replace it"
    assert "/opt/airflow/airflow-dlt-provider[duckdb,postgres]" in install[0]
    for copied in ("pyproject.toml", "README.md", "airflow_dlt_provider"):
        assert (REPO_ROOT / copied).exists(), copied


def test_dockerignore_keeps_virtualenvs_out_of_the_build_context():
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".venv-airflow2", ".git"} <= set(ignored)
    assert "airflow_dlt_provider" not in ignored and "pyproject.toml" not in ignored


# ---------------------------------------------------------------- profile `celery`


def test_celery_profile_redis_broker(services):
    redis = services["redis"]
    assert re.fullmatch(r"redis:\d+(\.\d+)*", redis["image"]), redis["image"]
    assert "redis-cli ping" in _healthcheck(redis)
    assert "--save" in redis["command"] and "" in redis["command"], "a broker needs no persistence here"
    for name in (*AIRFLOW_SERVICES, *CELERY_WORKERS):
        env = _env(services[name])
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0", name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], (
            name
        )


def test_celery_profile_two_workers(services):
    for name in CELERY_WORKERS:
        worker = services[name]
        assert _command(worker) == "celery worker", name
        assert worker.get("restart") == "always", name
        assert "inspect ping" in _healthcheck(worker), name
        assert worker["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert worker["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert worker["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name


def test_celery_workers_share_one_package_store_and_keep_local_working_dirs(compose, services):
    assert "dlt-store" in compose["volumes"]
    for name in CELERY_WORKERS:
        worker = services[name]
        env = _env(worker)
        assert env["AIRFLOW__DLT__PACKAGE_STORE"] == f"file://{STORE_PATH}", name
        mounts = {m.split(":")[1]: m.split(":")[0] for m in worker["volumes"]}
        assert mounts[STORE_PATH] == "dlt-store", f"{name} mounts the shared store volume at {STORE_PATH}"
        # the working dir is the worker's own scratch: inside the container, on no volume
        working_dir = env["AIRFLOW__DLT__WORKING_DIR"]
        assert not any(working_dir == path or working_dir.startswith(path + "/") for path in mounts), name
        # the same DAGs, logs and default DuckDB files as the rest of the deployment
        for path in ("/opt/airflow/dags", "/opt/airflow/logs", _env(worker)["AIRFLOW__DLT__BASE_DIR"]):
            assert path in mounts, f"{name} must mount {path}"


def test_warehouse_password_appears_nowhere_but_where_it_is_set(services):
    """Airflow masks a connection's password wherever it appears in logs and the UI: a password that is also
    a word of names (``warehouse``) would turn pipeline names, asset URIs and paths into ``***``."""
    password = _env(services["warehouse"])["POSTGRES_PASSWORD"]
    assert len(password) >= 12
    compose = (REPO_ROOT / "docker-compose.yaml").read_text()
    assert compose.count(password) == 2  # POSTGRES_PASSWORD and AIRFLOW_CONN_WAREHOUSE
    without_password = compose.replace(password, "")
    assert password.lower() not in without_password.lower()
    for path in (REPO_ROOT / "dags_examples").glob("*.py"):
        assert password not in path.read_text(), path
    for name in ("postgres", "warehouse", *AIRFLOW_SERVICES):
        assert password not in name
