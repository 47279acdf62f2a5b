"""A real Airflow for the test session: LocalExecutor, PostgreSQL metadata DB, its own home and DAGs folder.

Airflow 3: ``airflow api-server`` (free port) + ``airflow scheduler`` + ``airflow dag-processor``.
Airflow 2: ``airflow scheduler`` (LocalExecutor, DAG processing inside the scheduler).

Every process writes its output to ``<home>/process-logs/<name>.log``; when a wait times out the tails of
those logs are part of the error. Tests talk to the cluster through :class:`AirflowCluster` (see its methods);
reads go straight to the metadata DB with psycopg2, writes go through the API (Airflow 3) or the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from support import EXAMPLES_DIR, TESTS_DIR
from support.postgres import PostgresServer, free_port

BIN_DIR = Path(sys.executable).parent
TERMINAL_RUN_STATES = {"success", "failed"}
_AIRFLOW2_LOG_LINE = re.compile(
    r"^\[(?P<timestamp>[^\]]+)\] \{(?P<source>[^}]*)\} (?P<level>[A-Z]+) - (?P<event>.*)$"
)


def airflow_major() -> int:
    from airflow import __version__

    return int(__version__.split(".")[0])


@dataclass(frozen=True)
class TaskInstanceRow:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    try_number: int
    pool: str
    hostname: str | None = None  # the worker that ran the try ([core] hostname_callable)

    def overlaps(self, other: TaskInstanceRow) -> bool:
        """Whether the two tries ran at the same time (both must have finished)."""
        assert self.start_date and self.end_date and other.start_date and other.end_date
        return self.start_date < other.end_date and other.start_date < self.end_date


class ClusterTimeout(AssertionError):
    """A wait on the cluster ran out of time; the message carries the process log tails."""


@dataclass
class AirflowCluster:
    """A running Airflow. Create with :meth:`start`, end with :meth:`stop`."""

    home: Path
    postgres: PostgresServer
    metadata_db: str
    major: int
    api_port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _written: dict[str, datetime] = field(default_factory=dict)

    # ------------------------------------------------------------ life cycle

    @property
    def dags_folder(self) -> Path:
        return self.home / "dags"

    @property
    def logs_folder(self) -> Path:
        return self.home / "logs"

    @property
    def process_logs(self) -> Path:
        return self.home / "process-logs"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @classmethod
    def start(
        cls, postgres: PostgresServer, home: Path | None = None, db_name: str = "airflow", **fields: Any
    ) -> AirflowCluster:
        """Create the metadata DB, migrate it and start the processes; returns once they are healthy.

        ``fields`` go to the dataclass (a subclass's own fields, e.g. the Redis server of the Celery cluster).
        """
        home = Path(home or tempfile.mkdtemp(prefix="adp-airflow-cluster-"))
        started = time.monotonic()
        postgres.create_database(db_name)
        major = airflow_major()
        cluster = cls(home=home, postgres=postgres, metadata_db=db_name, major=major, **fields)
        cluster.api_port = free_port() if major >= 3 else None
        cluster.dags_folder.mkdir(parents=True, exist_ok=True)
        cluster.process_logs.mkdir(parents=True, exist_ok=True)
        cluster.env = cluster._build_env()
        try:
            migrate = cluster.run_cli("db", "migrate", timeout=300)
            (cluster.process_logs / "migrate.log").write_text(migrate.stdout + migrate.stderr)
            migrated = time.monotonic()
            cluster._spawn_processes()
            cluster._wait_healthy(timeout=180)
        except BaseException:
            cluster.stop()
            raise
        print(
            f"\n[airflow-cluster] {cls.__name__}: Airflow {major} up in {time.monotonic() - started:.1f} s "
            f"(db migrate {migrated - started:.1f} s) at {home}"
        )
        return cluster

    def _spawn_processes(self) -> None:
        if self.major >= 3:
            self._spawn("api-server", "api-server")
            self._spawn("scheduler", "scheduler")
            self._spawn("dag-processor", "dag-processor")
        else:
            self._spawn("scheduler", "scheduler")

    def _build_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        python_path = [str(EXAMPLES_DIR), str(TESTS_DIR), env.get("PYTHONPATH", "")]
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.dsn(
                    self.metadata_db, driver="postgresql+psycopg2"
                ),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
                "AIRFLOW__CORE__DAG_FILE_PROCESSOR_TIMEOUT": "120",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "90",
                # new and modified files are parsed at the next folder refresh (5 s); re-parsing unchanged dlt
                # DAG files every few seconds would burn the CPU the tasks need
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "False",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__CATCHUP_BY_DEFAULT": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__DAG_PROCESSOR__STALE_BUNDLE_CLEANUP_INTERVAL": "0",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
                # the machines are small and shared: give the execution API time before a worker gives up
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
                "AIRFLOW__API__SECRET_KEY": uuid.uuid4().hex,
                "AIRFLOW__WEBSERVER__SECRET_KEY": uuid.uuid4().hex,
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "RUNTIME__DLT_TELEMETRY": "false",
                "PYTHONPATH": os.pathsep.join(p for p in python_path if p),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.api_port is not None:
            env["AIRFLOW__API__HOST"] = "127.0.0.1"
            env["AIRFLOW__API__PORT"] = str(self.api_port)
            env["AIRFLOW__API__WORKERS"] = "1"
            env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"{self.api_url}/execution/"
        return env

    def _spawn(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        """Start ``airflow <args>`` in its own process group; ``env`` overrides the cluster's environment."""
        log_path = self.process_logs / f"{name}.log"
        with log_path.open("ab") as log_file:
            self.processes[name] = subprocess.Popen(
                [str(BIN_DIR / "airflow"), *args],
                env={**self.env, **(env or {})},
                cwd=self.home,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: teardown ends the process and its children
            )

    def _wait_healthy(self, timeout: float) -> None:
        job_types = {"SchedulerJob"} | ({"DagProcessorJob"} if self.major >= 3 else set())

        def healthy() -> bool:
            self._check_processes_alive()
            if self.major >= 3 and not (
                self._api_ok("/api/v2/version") and self._api_ok("/execution/health")
            ):
                return False
            rows = self.query(
                "SELECT DISTINCT job_type FROM job WHERE state = 'running' "
                "AND latest_heartbeat > now() - interval '60 seconds'"
            )
            return job_types <= {row[0] for row in rows}

        self._wait(healthy, timeout, "the Airflow processes to become healthy")

    def _api_ok(self, path: str) -> bool:
        """GET ``path`` answers 200. The first ``/execution`` request builds the execution API app (20-40 s
        on a busy machine): asking for it here keeps that cost out of the first task, whose requests time out.
        """
        try:
            with urllib.request.urlopen(f"{self.api_url}{path}", timeout=120) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _check_processes_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"airflow {name} exited with code {process.returncode}\n{self.diagnostics(lines=60)}"
                )

    def stop(self) -> None:
        """Terminate every process group started here (TERM, then KILL after 20 s). Files are kept."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # leftover children (task runners) of the group
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    def cleanup(self) -> None:
        """Delete the cluster home (after :meth:`stop`)."""
        shutil.rmtree(self.home, ignore_errors=True)

    # ------------------------------------------------------------ diagnostics

    def diagnostics(self, lines: int = 40) -> str:
        """The last ``lines`` lines of every process log."""
        parts = []
        for log_path in sorted(self.process_logs.glob("*.log")):
            tail = log_path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {log_path} (last {lines} lines)\n" + "\n".join(tail))
        return "\n".join(parts)

    def _wait(self, condition: Any, timeout: float, what: str, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise ClusterTimeout(
                    f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}"
                )
            time.sleep(interval)

    # ------------------------------------------------------------ metadata DB and CLI

    @contextlib.contextmanager
    def _db(self) -> Iterator[Any]:
        conn = self.postgres.connect(self.metadata_db)
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run SQL against the metadata DB and return the rows."""
        with self._db() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def run_cli(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``airflow`` CLI in the cluster's environment; raises with its output when it fails."""
        return self._run([str(BIN_DIR / "airflow"), *args], check=check, timeout=timeout)

    def run_command(
        self, *argv: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run any command (e.g. a console script of the venv) in the cluster's environment."""
        executable = argv[0] if os.sep in argv[0] else str(BIN_DIR / argv[0])
        return self._run([executable, *argv[1:]], check=check, timeout=timeout)

    def _run(self, argv: list[str], check: bool, timeout: float) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv, env=self.env, cwd=self.home, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} failed with code {result.returncode}\n"
                f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
            )
        return result

    def sync_pools(self) -> subprocess.CompletedProcess[str]:
        """``airflow-dlt pools sync`` against this cluster (the real console script)."""
        return self.run_command("airflow-dlt", "pools", "sync", "--dags-folder", str(self.dags_folder))

    def set_pool(self, name: str, slots: int = 1) -> None:
        self.run_cli("pools", "set", name, str(slots), "created by the test fixture")

    def pools(self) -> dict[str, int]:
        """Pools of the cluster: name -> slots."""
        return {name: slots for name, slots in self.query("SELECT pool, slots FROM slot_pool")}

    def add_connection(self, conn_id: str, uri: str) -> None:
        """Define an Airflow connection in the metadata DB (visible to every task)."""
        self.run_cli("connections", "delete", conn_id, check=False)
        self.run_cli("connections", "add", conn_id, "--conn-uri", uri)

    # ------------------------------------------------------------ DAGs

    def add_dag_file(self, path_or_code: str | Path, name: str | None = None) -> Path:
        """Put a DAG file into the DAGs folder: a path to copy or the code itself (``name`` required then)."""
        is_path = isinstance(path_or_code, Path) or (
            "\n" not in path_or_code and path_or_code.endswith(".py") and Path(path_or_code).is_file()
        )
        if is_path:
            source = Path(path_or_code)
            code, name = source.read_text(), name or source.name
        else:
            if not name:
                raise ValueError("add_dag_file(code, name): a name is required when passing code")
            code = str(path_or_code)
        name = name if name.endswith(".py") else f"{name}.py"
        target = self.dags_folder / name
        tmp = self.dags_folder / f".{name}.tmp"
        tmp.write_text(code)
        self._written[str(target)] = datetime.now(timezone.utc)
        os.replace(tmp, target)
        return target

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the DAG processor has (re)parsed ``dag_id`` after its file was last written here.

        Raises at once with the stack trace when the file has an import error.
        """

        def registered() -> bool:
            rows = self.query(
                "SELECT d.fileloc, d.last_parsed_time, s.dag_id IS NOT NULL FROM dag d "
                "LEFT JOIN (SELECT DISTINCT dag_id FROM serialized_dag) s ON s.dag_id = d.dag_id "
                "WHERE d.dag_id = %s",
                (dag_id,),
            )
            if rows:
                fileloc, parsed, serialized = rows[0]
                written = self._written.get(str(fileloc))
                if serialized and parsed is not None and (written is None or parsed >= written):
                    return True
            self._raise_import_errors()
            return False

        self._wait(registered, timeout, f"DAG {dag_id!r} to be parsed")

    def _raise_import_errors(self) -> None:
        for filename, stamp, stacktrace in self.query(
            "SELECT filename, timestamp, stacktrace FROM import_error"
        ):
            for path, written in self._written.items():
                if path.endswith(str(filename)) and stamp is not None and stamp >= written:
                    raise AssertionError(f"import error in DAG file {path}:\n{stacktrace}")

    def unpause(self, dag_id: str) -> None:
        if self.major >= 3:
            self._api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        else:
            self.run_cli("dags", "unpause", dag_id)

    def pause(self, dag_id: str) -> None:
        if self.major >= 3:
            self._api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        else:
            self.run_cli("dags", "pause", dag_id)

    def trigger(
        self,
        dag_id: str,
        logical_date: datetime | str | None = None,
        conf: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Start a manual DAG run and return its run_id."""
        run_id = run_id or f"manual__test_{uuid.uuid4().hex[:10]}"
        if isinstance(logical_date, datetime):
            logical_date = logical_date.isoformat()
        if self.major >= 3:
            body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": dict(conf or {})}
            self._api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        else:
            if logical_date is None:  # Airflow 2 needs unique logical dates per DAG
                logical_date = datetime.now(timezone.utc).isoformat()
            args = ["dags", "trigger", dag_id, "-r", run_id, "-e", logical_date, "--no-replace-microseconds"]
            if conf:
                args += ["-c", json.dumps(dict(conf))]
            self.run_cli(*args)
        return run_id

    def _api(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.api_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise AssertionError(
                f"{method} {path} -> {error.code}: {error.read().decode(errors='replace')}"
            ) from error
        return json.loads(payload) if payload else None

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id))
        return rows[0][0] if rows else None

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180) -> str:
        """Wait until the run is ``success`` or ``failed`` and return that state."""

        def finished() -> str | None:
            self._check_processes_alive()
            state = self.run_state(dag_id, run_id)
            return state if state in TERMINAL_RUN_STATES else None

        try:
            return str(self._wait(finished, timeout, f"run {run_id!r} of DAG {dag_id!r} to finish"))
        except ClusterTimeout as error:
            states = "\n".join(
                f"  {ti.task_id}: {ti.state} try={ti.try_number} pool={ti.pool}"
                for ti in self.task_instances(dag_id, run_id)
            )
            raise ClusterTimeout(f"task states of {run_id}:\n{states}\n{error}") from None

    # ------------------------------------------------------------ results

    def task_instances(self, dag_id: str | None = None, run_id: str | None = None) -> list[TaskInstanceRow]:
        """Task instances from the metadata DB (all DAGs when ``dag_id`` is None), ordered by start."""
        sql = (
            "SELECT dag_id, run_id, task_id, map_index, state, start_date, end_date, try_number, pool, hostname "
            "FROM task_instance WHERE (%s IS NULL OR dag_id = %s) AND (%s IS NULL OR run_id = %s) "
            "ORDER BY start_date NULLS LAST, dag_id, run_id, task_id"
        )
        rows = self.query(sql, (dag_id, dag_id, run_id, run_id))
        return [TaskInstanceRow(*row) for row in rows]

    def task_log_path(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> Path:
        folder = self.logs_folder / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder /= f"map_index={map_index}"
        return folder / f"attempt={try_number}.log"

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The task log file as written by the worker (JSON lines on Airflow 3, text on Airflow 2)."""
        return self.task_log_path(dag_id, run_id, task_id, try_number, map_index).read_text(errors="replace")

    def task_log_records(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> list[dict[str, Any]]:
        """The task log as records with at least ``level`` (lower case) and ``event`` on both Airflow versions."""
        text = self.task_log(dag_id, run_id, task_id, try_number, map_index)
        return parse_task_log(text)

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        """The XCom value (decoded JSON), or None when there is none."""
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = %s AND key = %s "
            "AND map_index = %s",
            (dag_id, run_id, task_id, key, map_index),
        )
        if not rows:
            return None
        value = rows[0][0]
        if isinstance(value, (bytes, memoryview)):  # Airflow 2 stores JSON bytes
            value = json.loads(bytes(value).decode())
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        return value

    def asset_events(self, source_dag_id: str | None = None) -> list[dict[str, Any]]:
        """Asset (dataset) events with their URI and extra, oldest first."""
        if self.major >= 3:
            sql = (
                "SELECT a.uri, a.name, e.extra, e.source_dag_id, e.source_task_id, e.source_run_id, e.timestamp "
                "FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            )
        else:
            sql = (
                "SELECT d.uri, d.uri, e.extra, e.source_dag_id, e.source_task_id, e.source_run_id, e.timestamp "
                "FROM dataset_event e JOIN dataset d ON d.id = e.dataset_id "
            )
        sql += "WHERE (%s IS NULL OR e.source_dag_id = %s) ORDER BY e.timestamp, e.id"
        keys = ("uri", "name", "extra", "source_dag_id", "source_task_id", "source_run_id", "timestamp")
        events = [
            dict(zip(keys, row, strict=True)) for row in self.query(sql, (source_dag_id, source_dag_id))
        ]
        for event in events:
            if isinstance(event["extra"], str):
                event["extra"] = json.loads(event["extra"])
        return events

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        keys = ("run_id", "state", "run_type", "logical_date", "data_interval_start", "data_interval_end")
        logical_date = "logical_date" if self.major >= 3 else "execution_date"  # the column's Airflow 2 name
        rows = self.query(
            f"SELECT run_id, state, run_type, {logical_date}, data_interval_start, data_interval_end "
            "FROM dag_run WHERE dag_id = %s ORDER BY id",
            (dag_id,),
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]


def parse_task_log(text: str) -> list[dict[str, Any]]:
    """Task log text -> records. Airflow 3 writes JSON lines; Airflow 2 ``[ts] {file:line} LEVEL - msg``."""
    records: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
                continue
        match = _AIRFLOW2_LOG_LINE.match(line)
        if match:
            record = match.groupdict()
            record["level"] = record["level"].lower()
            records.append(record)
        elif records:  # continuation of a multi-line message
            records[-1]["event"] = f"{records[-1].get('event', '')}\n{line}"
    return records


# ---------------------------------------------------------------------------------------------------- Celery

# [core] hostname_callable of the Celery cluster: each worker (and the task processes it starts) reports the
# name in ADP_WORKER_HOSTNAME, so task_instance.hostname tells the two workers of one machine apart
_HOSTNAME_MODULE = """\
import os
import socket


def hostname() -> str:
    return os.environ.get("ADP_WORKER_HOSTNAME") or socket.getfqdn()
"""


@dataclass
class CeleryAirflowCluster(AirflowCluster):
    """A real Airflow with the CeleryExecutor: Redis broker, the metadata DB as result backend, and ``workers``
    ``airflow celery worker`` processes (concurrency 2 each) on this machine, told apart by
    ``--celery-hostname`` / ``task_instance.hostname`` ``adp-worker-N``.

    Each worker has its own local ``[dlt] working_dir`` (``<home>/worker-N/work``); all share the package store
    ``file://<home>/store`` (``[dlt] package_store``). The scheduler notices a task whose worker died after
    :data:`HEARTBEAT_TIMEOUT` seconds. :meth:`kill_worker` SIGKILLs a whole worker with its task processes.
    Airflow 3 only (the Airflow 2 path of the base class is not wired for Celery).
    """

    redis: Any = None  # fixtures.redis.RedisServer
    workers: int = 2
    killed_workers: set[str] = field(default_factory=set)

    HEARTBEAT_TIMEOUT = 20
    CONCURRENCY = 2

    @property
    def package_store(self) -> Path:
        return self.home / "store"

    def worker_name(self, index: int) -> str:
        return f"adp-worker-{index}"

    def worker_names(self) -> list[str]:
        return [self.worker_name(index) for index in range(1, self.workers + 1)]

    def worker_working_dir(self, index: int) -> Path:
        return self.home / f"worker-{index}" / "work"

    def _build_env(self) -> dict[str, str]:
        if self.redis is None:
            raise ValueError("CeleryAirflowCluster.start(postgres, redis=<RedisServer>)")
        env = super()._build_env()
        pylib = self.home / "pylib"
        pylib.mkdir(parents=True, exist_ok=True)
        (pylib / "adp_worker_hostname.py").write_text(_HOSTNAME_MODULE)
        self.package_store.mkdir(parents=True, exist_ok=True)
        env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(pylib), env["PYTHONPATH"]]),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "adp_worker_hostname.hostname",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url(0),
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
                + self.postgres.dsn(self.metadata_db, driver="postgresql+psycopg2"),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.CONCURRENCY),
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                # a task whose worker died stops heart-beating: fail it (and retry) after 20 s, not 5 minutes
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.HEARTBEAT_TIMEOUT),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__DLT__PACKAGE_STORE": self.package_store.as_uri(),
            }
        )
        return env

    def _spawn_processes(self) -> None:
        if self.major < 3:
            raise RuntimeError("the Celery cluster fixture runs on Airflow 3 only")
        super()._spawn_processes()
        for index in range(1, self.workers + 1):
            self._spawn_worker(index)

    def _spawn_worker(self, index: int) -> None:
        name = self.worker_name(index)
        work = self.worker_working_dir(index)
        work.mkdir(parents=True, exist_ok=True)
        (self.home / f"{name}.pid").unlink(missing_ok=True)  # left behind by a killed worker
        self._spawn(
            name,
            "celery", "worker",
            "--celery-hostname", name,
            "--concurrency", str(self.CONCURRENCY),
            "--skip-serve-logs",
            "--pid", str(self.home / f"{name}.pid"),
            env={"ADP_WORKER_HOSTNAME": name, "AIRFLOW__DLT__WORKING_DIR": str(work)},
        )  # fmt: skip

    def restart_worker(self, name: str, timeout: float = 120) -> None:
        """Start worker ``name`` again after :meth:`kill_worker` (a replacement machine) and wait until ready."""
        log_path = self.process_logs / f"{name}.log"
        seen = len(log_path.read_text(errors="replace")) if log_path.exists() else 0
        self._spawn_worker(self.worker_names().index(name) + 1)
        self.killed_workers.discard(name)
        self._wait(
            lambda: f"@{name} ready." in log_path.read_text(errors="replace")[seen:],
            timeout,
            f"worker {name} to be ready again",
        )

    def _wait_healthy(self, timeout: float) -> None:
        super()._wait_healthy(timeout)

        def workers_ready() -> bool:
            self._check_processes_alive()
            return all(
                f"@{name} ready." in (self.process_logs / f"{name}.log").read_text(errors="replace")
                for name in self.worker_names()
            )

        self._wait(workers_ready, timeout, "the Celery workers to be ready")

    def _check_processes_alive(self) -> None:
        for name, process in self.processes.items():
            if name not in self.killed_workers and process.poll() is not None:
                raise RuntimeError(
                    f"airflow {name} exited with code {process.returncode}\n{self.diagnostics(lines=60)}"
                )

    def worker_process_groups(self, name: str) -> set[int]:
        """The process groups of worker ``name``: its own and those of its task processes (Airflow starts each
        task in a group of its own, so killing the worker's group alone would leave the task running)."""
        import psutil

        root = psutil.Process(self.processes[name].pid)
        groups = {os.getpgid(root.pid)}
        for child in root.children(recursive=True):
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                groups.add(os.getpgid(child.pid))
        return groups

    def kill_worker(self, name: str) -> set[int]:
        """SIGKILL worker ``name`` as a machine failure would: the worker, its pool and every task process.

        The worker's group is stopped first (no new children while the groups are collected), then every
        group is killed. Returns the killed process groups.
        """
        process = self.processes[name]
        self.killed_workers.add(name)  # its exit is expected from now on
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGSTOP)
        groups = self.worker_process_groups(name)
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        process.wait(timeout=30)
        return groups

    def stop(self) -> None:
        """Also end the task process groups of the workers (they are not in the workers' groups)."""
        for name in self.worker_names():
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                with contextlib.suppress(Exception):
                    for group in self.worker_process_groups(name) - {process.pid}:
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(group, signal.SIGTERM)
        super().stop()

    def task_tries(self, dag_id: str, run_id: str, task_id: str) -> list[TaskInstanceRow]:
        """Every try of a task, oldest first: ``task_instance_history`` (earlier tries) + ``task_instance``."""
        columns = (
            "dag_id, run_id, task_id, map_index, state, start_date, end_date, try_number, pool, hostname"
        )
        where = "WHERE dag_id = %s AND run_id = %s AND task_id = %s"
        params = (dag_id, run_id, task_id)
        earlier = self.query(
            f"SELECT {columns} FROM task_instance_history {where} ORDER BY try_number", params
        )
        current = self.query(f"SELECT {columns} FROM task_instance {where}", params)
        return [TaskInstanceRow(*row) for row in [*earlier, *current]]
