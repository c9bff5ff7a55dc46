"""The whole system as `make run` starts it (API, RQ worker, cron), and Chromium to drive it.

`WebSystem` runs `python -m mylivelinks.dev run` on the session's PostgreSQL and on a Redis
database of its own (the suite flushes database 0 before every test, which would pull the
queues from under a running worker). `browser_context` opens a Chromium context signed in
as a registered user and records every request its pages make.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.processes import (
    HOST,
    ChildProcess,
    JsonClient,
    free_port,
    server_environment,
)

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# The network of CI machines is closed: Chromium must not call home.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM = (
    "Chromium is missing at {path}: the browser tests need Debian's package "
    "(`sudo apt-get install -y chromium`; `.ci/run` installs it), or CHROMIUM_PATH set to "
    "another Chromium binary. `playwright install` is not needed."
)
SESSION_KEY = "mll.session"


def with_redis_database(url: str, database: int) -> str:
    """`url` pointing at another database number of the same Redis."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={database}"
    return parts._replace(path=f"/{database}").geturl()


class Http(JsonClient):
    """JSON over HTTP to a server on 127.0.0.1 (one connection per request)."""

    def post_raw(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST `body` as it is (a signed webhook); the status."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def call(self, method: str, path: str, session: dict | None = None, body: Any = None) -> Any:
        """An /api/v1 request that must succeed; its JSON body."""
        token = session["access_token"] if session else None
        reply = self.request(method, f"/api/v1{path}", body, token)
        assert 200 <= reply.status < 300, (method, path, reply.status, reply.body)
        return reply.body

    def register(self, prefix: str = "web") -> dict:
        """A fresh account: the 201 body (user, access_token, refresh_token)."""
        name = f"{prefix}_{os.urandom(4).hex()}"
        body = {"username": name, "email": f"{name}@example.com", "password": "correct horse"}
        return self.call("POST", "/auth/register", body=body)


class WebSystem(Http):
    """`python -m mylivelinks.dev run` on given servers: gunicorn, an RQ worker and cron."""

    def __init__(self, environment: dict[str, str], var_dir: Path):
        super().__init__(free_port())
        self.var_dir = var_dir
        self.env = server_environment(
            HOST=HOST,
            PORT=str(self.port),
            VAR_DIR=str(var_dir),
            SSE_MAX_LISTENERS="200",
            **environment,
        )
        command = [sys.executable, "-m", "mylivelinks.dev", "run"]
        self.process = ChildProcess("the system", command, self.env, var_dir / "system.log")

    def start(self, timeout: float = 90) -> WebSystem:
        """Start the supervisor and wait until /readyz answers 200."""
        self.process.start().wait_ready(self, timeout)
        return self

    def stop(self) -> None:
        """SIGTERM to the supervisor (it stops its children), SIGKILL to what is left."""
        self.process.stop(signal.SIGTERM, grace=30, group=False)

    def log(self) -> str:
        """The tail of the system's output."""
        return self.process.log()


class Worker(ChildProcess):
    """One RQ worker (as `make run` starts it) with the given environment."""

    def __init__(self, env: dict[str, str], log_path: Path):
        from mylivelinks.dev import WORKER_CLASS
        from mylivelinks.jobs import QUEUES

        rq = str(Path(sys.executable).parent / "rq")
        command = [rq, "worker", "--url", env["REDIS_URL"], "--worker-class", WORKER_CLASS]
        super().__init__("the RQ worker", [*command, *QUEUES], env, log_path)

    def stop(self, signum: int = signal.SIGKILL, grace: float = 15, group: bool = True) -> None:
        """Kill the worker's process group."""
        super().stop(signum, grace, group)


def jwt_claims(token: str) -> dict:
    """The claims of a JWT, unverified (what a browser SDK reads)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def stored_session(body: dict) -> dict:
    """What the web client keeps in localStorage for a login answer (see api.js)."""
    claims = jwt_claims(body["access_token"])
    return {
        "access_token": body["access_token"],
        "refresh_token": body["refresh_token"],
        "issued_at": claims["iat"] * 1000,
        "expires_at": claims["exp"] * 1000,
        "user": body["user"],
    }


def chromium_available() -> Path:
    """Debian's Chromium binary; fails loudly (never skips) when it is missing."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        raise RuntimeError(MISSING_CHROMIUM.format(path=CHROMIUM))
    return CHROMIUM
