"""The whole system for a benchmark: start it in a VAR_DIR, reach its stores, seed, stop it.

`start_system` runs `make run`'s supervisor (`python -m mylivelinks.dev run`: embedded
PostgreSQL and Redis, gunicorn's gevent workers, the RQ worker) on a free port and returns
once /readyz answers; `stop_system` ends it; `running_system` does both around a `with`
block, in a temporary VAR_DIR. `seeding_app` is an app on the same database and Redis, to
seed straight through the services. `KeepAliveClient` and `run_threads` serve their client
processes.
Shared by the benchmarks that start their own system.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Lifted for the benchmarks that measure a path, not its per-user limit.
HIGH_RATE_LIMIT = "1000000 per second"
LONG_SECONDS = "86400"
# For seeding apps whose tokens must outlive the run and whose streamers the sweep leaves live.
LONG_LIVED = {"ACCESS_TOKEN_TTL_SECONDS": LONG_SECONDS, "STREAMER_TIMEOUT_SECONDS": LONG_SECONDS}


def log(message: str) -> None:
    """Progress, on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_system(
    var_dir: Path,
    port: int,
    *,
    web_workers: int,
    listeners: int | None = None,
    extra: dict[str, str] | None = None,
    ready_timeout: float = 180,
) -> subprocess.Popen:
    """`make run`'s supervisor on `port` with `extra` settings; returns once /readyz answers.

    The API runs on gunicorn's gevent worker; `listeners` sets SSE_MAX_LISTENERS (the event
    streams each worker takes, which sizes its connections and the supervisor's open-file
    limit), else the setting's default."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "VAR_DIR": str(var_dir),
            "PORT": str(port),
            "WEB_WORKERS": str(web_workers),
            **({"SSE_MAX_LISTENERS": str(listeners)} if listeners else {}),
            "LOG_LEVEL": "WARNING",
            **(extra or {}),
        }
    )
    system = subprocess.Popen(
        [sys.executable, "-m", "mylivelinks.dev", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if system.poll() is not None:
            raise RuntimeError(f"the system exited with {system.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
                if reply.status == 200:
                    return system
        except OSError:
            time.sleep(0.5)
    stop_system(system)
    raise RuntimeError("the system did not become ready")


def stop_system(system: subprocess.Popen) -> None:
    """SIGTERM to the supervisor (it stops its children and both servers), then wait."""
    if system.poll() is None:
        system.send_signal(signal.SIGTERM)
        try:
            system.wait(90)
        except subprocess.TimeoutExpired:
            system.kill()
            system.wait()


@contextmanager
def running_system(prefix: str, *, keep: bool = False, **options) -> Iterator[tuple[Path, int]]:
    """The system in a new temporary VAR_DIR on a free port, started with `options` (those of
    `start_system`); yields the VAR_DIR and the port, and on leaving stops the system and
    removes the directory (unless `keep`)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    var_dir = base / "var"
    port = free_port()
    log(f"starting the system in {var_dir} on port {port}")
    try:
        started = time.monotonic()
        system = start_system(var_dir, port, **options)
        log(f"ready after {time.monotonic() - started:.0f} s")
        try:
            yield var_dir, port
        finally:
            stop_system(system)
    finally:
        if keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def database_url(var_dir: Path) -> str:
    """The libpq URL of the system's embedded PostgreSQL."""
    return f"postgresql://postgres@/mylivelinks?host={var_dir / 'pgdata'}"


def redis_socket(var_dir: Path) -> Path:
    """The unix socket of the system's embedded Redis."""
    return var_dir / "redis" / "redis.sock"


def seeding_app(var_dir: Path, **settings: str):
    """An app on the system's database and Redis, to seed through the services."""
    from mylivelinks import create_app
    from mylivelinks.config import Config

    return create_app(
        Config(
            {
                "APP_ENV": "development",
                "SECRET_KEY": (var_dir / "secret_key").read_text().strip(),
                "DATABASE_URL": database_url(var_dir),
                "REDIS_URL": f"unix://{redis_socket(var_dir)}",
                "LOG_LEVEL": "WARNING",
                **settings,
            }
        )
    )


class KeepAliveClient:
    """POSTs on one keep-alive HTTP/1.1 connection to 127.0.0.1:`port`, written and read
    straight on the socket: http.client costs several times more CPU per request, and the
    clients share the machine with the system they measure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._socket: socket.socket | None = None
        self._pending = b""

    def post(self, path: str, body: str, headers: dict[str, str]) -> int:
        """The response's status (0 when the request failed; the next one reconnects)."""
        payload = body.encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(payload)}\r\n"
            f"{head}\r\n"
        ).encode() + payload
        try:
            if self._socket is None:
                self._socket = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            self._socket.sendall(request)
            return self._read_response()
        except (OSError, ValueError):
            self.close()
            return 0

    def close(self) -> None:
        """Close the connection."""
        if self._socket is not None:
            self._socket.close()
        self._socket, self._pending = None, b""

    def _read_response(self) -> int:
        while b"\r\n\r\n" not in self._pending:
            self._receive()
        head, _, rest = self._pending.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").lower().split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines[1:])
        length = int(fields.get("content-length", 0))
        self._pending = rest
        while len(self._pending) < length:
            self._receive()
        self._pending = self._pending[length:]
        if fields.get("connection") == "close":
            self.close()
        return int(lines[0].split()[1])

    def _receive(self) -> None:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise OSError("connection closed by the server")
        self._pending += chunk


def run_threads(target: Callable[[object], None], items: Iterable) -> None:
    """`target(item)` for each item, each on a thread of its own, all at once; wait for all."""
    workers = [threading.Thread(target=target, args=(item,)) for item in items]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
