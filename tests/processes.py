"""The service as real processes in tests: start, wait until ready, read the log, stop.

`ChildProcess` is one command the tests start (gunicorn, `make run`'s supervisor, an RQ
worker) with an environment and a log file, in a session of its own. `JsonClient` is
JSON over HTTP to such a process, one connection a request. `wait_until` polls any
condition within a bound; it is what waiting for `/readyz` uses too.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import TEST_HASH_PROFILE, TEST_SECRET_KEY

ROOT = Path(__file__).parent.parent
HOST = "127.0.0.1"
# What a server that is starting, restarting or being killed answers a client with.
CONNECTION_ERRORS = (OSError, http.client.HTTPException)
# Settings of the test process that must not leak into a child given its own servers.
SERVER_SETTINGS = ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def inherited_environment(*dropped: str) -> dict[str, str]:
    """This process's environment without the servers' settings (and `dropped`)."""
    leave_out = {*SERVER_SETTINGS, *dropped}
    return {key: value for key, value in os.environ.items() if key not in leave_out}


def server_environment(**settings: str) -> dict[str, str]:
    """The inherited environment, set as every server of the suite runs (testing, the
    suite's secret key and password hashing, warnings only), then `settings`."""
    env = inherited_environment()
    env.update({"APP_ENV": "testing", "SECRET_KEY": TEST_SECRET_KEY, "LOG_LEVEL": "WARNING"})
    env.update(TEST_HASH_PROFILE)
    env.update(settings)
    return env


def wait_until(
    condition: Callable[[], Any],
    bound: float,
    what: str,
    step: float = 0.05,
    detail: Callable[[], str] | None = None,
) -> float:
    """Seconds until `condition()` is truthy (a connection error counts as not yet); fails
    the test past `bound` seconds, with `what` and `detail()` in the message."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(*CONNECTION_ERRORS):
            if condition():
                return time.monotonic() - started
        if time.monotonic() - started > bound:
            message = f"{what}: not within {bound} s"
            raise AssertionError(f"{message}\n{detail()}" if detail else message)
        time.sleep(step)


@dataclass
class Reply:
    """One HTTP answer: status, headers (lower-case names) and the JSON body, if any."""

    status: int
    headers: dict[str, str]
    body: Any


class JsonClient:
    """JSON over HTTP to a server on 127.0.0.1, one connection a request."""

    def __init__(self, port: int, prefix: str = "", timeout: float = 15):
        self.port = port
        self.prefix = prefix
        self.timeout = timeout

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://{HOST}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """One request to `prefix` + `path`; `body` is sent as JSON, `token` as a bearer."""
        sent = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout or self.timeout)
        try:
            data = json.dumps(body) if body is not None else None
            connection.request(method, f"{self.prefix}{path}", body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            reply_headers = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, reply_headers, _parsed(raw))
        finally:
            connection.close()


def _parsed(raw: bytes) -> Any:
    """A body as JSON; the text of one that is not (a proxy's or a dying server's page)."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class ChildProcess:
    """One command run by the tests in a session of its own, its output in `log_path`."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        cwd: Path = ROOT,
    ):
        self.name = name
        self.command = list(command)
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        """The process id (started)."""
        assert self.process is not None, f"{self.name} is not started"
        return self.process.pid

    def start(self) -> ChildProcess:
        """Start the command, its output appended to the log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def running(self) -> bool:
        """Whether it was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    def log(self, chars: int = 6000) -> str:
        """The tail of its output."""
        if not self.log_path.exists():
            return f"(no log at {self.log_path})"
        return f"{self.name}'s log:\n{self.log_path.read_text(errors='replace')[-chars:]}"

    def child(self, marker: str) -> psutil.Process | None:
        """Its child whose command line contains `marker`, if one is running."""
        for process in psutil.Process(self.pid).children():
            with contextlib.suppress(psutil.Error):
                running = process.status() != psutil.STATUS_ZOMBIE
                if running and marker in " ".join(process.cmdline()):
                    return process
        return None

    def wait_ready(self, client: JsonClient, bound: float, path: str = "/readyz") -> float:
        """Seconds until `path` answers 200; fails once it exits or past `bound` seconds."""

        def ready() -> bool:
            assert self.process is not None, f"{self.name} is not started"
            exited = self.process.poll()
            if exited is not None:
                raise AssertionError(f"{self.name} exited ({exited}) before ready; {self.log()}")
            return client.request("GET", path, timeout=2).status == 200

        return wait_until(ready, bound, f"{self.name} answering {path}", detail=self.log)

    def stop(self, signum: int = signal.SIGTERM, grace: float = 30, group: bool = True) -> None:
        """Send `signum` to its process group (or to it alone: `group=False`), wait `grace`
        seconds, then SIGKILL whatever is left of the group and of its descendants."""
        if self.process is None:
            return
        descendants: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            descendants = psutil.Process(self.process.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for process in descendants:  # children in sessions of their own
            with contextlib.suppress(psutil.Error):
                process.kill()
        self.process = None
