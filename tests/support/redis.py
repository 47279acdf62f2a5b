"""A throwaway Redis server for the test session (the CeleryExecutor's broker).

Debian's ``redis-server`` (``.ci/run`` installs it when missing) on a free port of 127.0.0.1, no persistence
(``--save ''``, no AOF), its files in a temp dir of its own. It runs as root fine.

Usage outside pytest::

    server = RedisServer.start()
    url = server.url(0)                      # redis://127.0.0.1:PORT/0
    server.stop()
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.postgres import free_port

_SEARCH_PATH = "/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin"


class RedisUnavailable(RuntimeError):
    """The ``redis-server`` binary is missing."""


def find_redis_server() -> Path:
    """``redis-server`` on PATH, else in the usual system folders."""
    found = shutil.which("redis-server") or shutil.which("redis-server", path=_SEARCH_PATH)
    if not found:
        raise RedisUnavailable(
            "redis-server not found on PATH or in /usr/bin, /usr/sbin; install it "
            "(e.g. apt-get install redis-server; .ci/run does this on CI)"
        )
    return Path(found)


@dataclass
class RedisServer:
    """A running throwaway Redis. Create with :meth:`start`, end with :meth:`stop`."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_file(self) -> Path:
        return self.root / "redis.log"

    @classmethod
    def start(cls, root: Path | None = None, port: int | None = None, timeout: float = 30) -> RedisServer:
        """Start ``redis-server`` in the foreground (own process group) and wait until it answers PING."""
        binary = find_redis_server()
        root = Path(root or tempfile.mkdtemp(prefix="adp-redis-"))
        root.mkdir(parents=True, exist_ok=True)
        server = cls(root=root, port=port or free_port())
        argv = [
            str(binary),
            "--port", str(server.port),
            "--bind", server.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(root),
            "--logfile", str(server.log_file),
            "--daemonize", "no",
            "--protected-mode", "no",
        ]  # fmt: skip
        server.process = subprocess.Popen(
            argv, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not server.ping():
            if server.process.poll() is not None or time.monotonic() > deadline:
                log = server.log_file.read_text(errors="replace")[-3000:] if server.log_file.exists() else ""
                server.stop()
                raise RuntimeError(f"redis-server did not start on port {server.port}:\n{log}")
            time.sleep(0.1)
        return server

    def ping(self) -> bool:
        """True when the server answers ``PING`` with ``+PONG``."""
        try:
            with socket.create_connection((self.host, self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def stop(self) -> None:
        """Stop the server (TERM, then KILL after 10 s) and delete its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)
