"""The whole service as real processes, for fault tests.

`make run`'s supervisor (`python -m mylivelinks.dev run`) runs the API (gunicorn), an RQ
worker and the cron scheduler against a database of its own on the suite's embedded
PostgreSQL, a persistent embedded Redis the tests stop and start, and LiveKit's fake in
this process (so a vendor call can be held while its worker is killed). Timeouts and
intervals are short so that each fault converges in seconds.

FAULTS_CODE_ROOT runs the processes from another checkout of the project (the before
figures of the closing note were measured that way); the tests always come from here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from flask import Flask
from redis import Redis
from sqlalchemy import make_url, text

from mylivelinks import create_app
from mylivelinks.config import Config
from mylivelinks.dev import EmbeddedRedis
from tests.conftest import TEST_HASH_PROFILE
from tests.databases import drop_database, fresh_database
from tests.fakes.livekit_harness import LiveKitHarness
from tests.processes import (
    CONNECTION_ERRORS,
    ChildProcess,
    JsonClient,
    Reply,
    free_port,
    inherited_environment,
    wait_until,
)

ROOT = Path(__file__).parent.parent.parent
SECRET_KEY = "faults-secret-key-that-is-long-enough-for-hs256"
DATABASE = "mylivelinks_faults"
PASSWORD = "correct horse"

VIEWER_TIMEOUT = 4
STREAMER_TIMEOUT = 6
SWEEP_INTERVAL = 1
PUBLISH_LOCK = 2
HEARTBEAT_EVERY = 1.0
SETTINGS = {
    "VIEWER_TIMEOUT_SECONDS": str(VIEWER_TIMEOUT),
    "STREAMER_TIMEOUT_SECONDS": str(STREAMER_TIMEOUT),
    "SWEEP_INTERVAL_SECONDS": str(SWEEP_INTERVAL),
    "PUBLISH_LOCK_SECONDS": str(PUBLISH_LOCK),
    "PUBLISH_RETRY_SECONDS": "1,1,1",
    "SSE_MAX_LISTENERS": "16",
    "SSE_PRESENCE_SECONDS": "1",
    # Every account of every test registers from 127.0.0.1.
    "REGISTER_RATE_LIMIT": "10000 per minute",
    **TEST_HASH_PROFILE,
}


class Heartbeats:
    """Clients heartbeating every HEARTBEAT_EVERY seconds on a thread, as apps do."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.beating: dict[str, tuple[dict, list[int]]] = {}
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)
        self._thread.start()

    def add(self, session: dict, positions: list[int]) -> None:
        """Heartbeat as `session`, for the boxes at `positions` and their own stream."""
        with self._lock:
            self.beating[session["user"]["id"]] = (session, positions)

    def remove(self, session: dict) -> None:
        """Stop heartbeating as `session` (the client went silent)."""
        with self._lock:
            self.beating.pop(session["user"]["id"], None)

    def clear(self) -> None:
        """Every client silent."""
        with self._lock:
            self.beating.clear()

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            if self.paused.is_set():
                continue
            with self._lock:
                beating = list(self.beating.values())
            for session, positions in beating:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    self.stack.heartbeat(session, positions)

    def stop(self) -> None:
        """End the thread."""
        self._stop.set()
        self._thread.join()


class Stack:
    """The processes of `make run` on their own database and Redis; see the module doc."""

    def __init__(self, tmp: Path, database_url: str):
        self.tmp = tmp
        self.code_root = Path(os.environ.get("FAULTS_CODE_ROOT") or ROOT)
        self._server_url = database_url
        self.database_url = make_url(database_url).set(database=DATABASE).render_as_string(False)
        self.redis_server = EmbeddedRedis(tmp / "redis")
        self.livekit = LiveKitHarness()
        self.port = free_port()
        self.api = JsonClient(self.port, prefix="/api/v1", timeout=10)
        self.supervisor: ChildProcess | None = None
        self.app: Flask | None = None
        self.heartbeats = Heartbeats(self)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Create the database, start Redis, the fake vendor and `make run`; wait until ready."""
        fresh_database(self._server_url, DATABASE)
        redis_url = self.redis_server.start()
        self.livekit.start()
        vendor = {k: str(v) for k, v in self.livekit.settings().items()}
        environment = {
            "APP_ENV": "testing",
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": redis_url,
            **SETTINGS,
            **vendor,
        }
        env = inherited_environment()
        env.update(environment)
        env.update(
            {
                "APP_ENV": "development",
                "VAR_DIR": str(self.tmp / "var"),
                "PORT": str(self.port),
                "PYTHONPATH": str(self.code_root),
            }
        )
        command = [sys.executable, "-m", "mylivelinks.dev", "run"]
        self.supervisor = ChildProcess(
            "make run", command, env, self.tmp / "stack.log", cwd=self.code_root
        ).start()
        self.app = create_app(Config(environment))
        self.supervisor.wait_ready(JsonClient(self.port), 120)

    def stop(self) -> None:
        """Stop everything this stack started and drop its database."""
        self.heartbeats.stop()
        if self.supervisor is not None:
            self.supervisor.stop(signal.SIGTERM, grace=60, group=False)
        if self.app is not None:
            with self.app.app_context():
                from mylivelinks.extensions import db

                db.engine.dispose()
        self.redis_server.stop()
        self.livekit.stop()
        drop_database(self._server_url, DATABASE)

    # --- processes ----------------------------------------------------------------------------

    def child(self, marker: str) -> psutil.Process | None:
        """The supervisor's child whose command line contains `marker`, if running."""
        assert self.supervisor is not None
        return self.supervisor.child(marker)

    def worker(self) -> psutil.Process:
        """The RQ worker process (waiting for one to be running)."""
        wait_until(lambda: self.child("rq worker"), 30, "an RQ worker running")
        process = self.child("rq worker")
        assert process is not None
        return process

    def signal_worker(self, signum: int) -> psutil.Process:
        """Send `signum` to the worker and the processes it started (its session)."""
        worker = self.worker()
        os.killpg(worker.pid, signum)
        return worker

    def web_worker(self) -> psutil.Process:
        """The gunicorn worker process serving requests."""
        master = self.child("gunicorn")
        assert master is not None
        wait_until(master.children, 30, "a gunicorn worker")
        return master.children()[0]

    @property
    def redis(self) -> Redis:
        """A client of the stack's Redis."""
        return Redis.from_url(self.redis_server.url)

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """An app context on the stack's database and Redis, for reading their state."""
        assert self.app is not None
        with self.app.app_context():
            yield

    # --- the API ------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        session: dict | None = None,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """One API request (`path` under /api/v1), as `session` when given."""
        token = session["access_token"] if session is not None else None
        return self.api.request(method, path, body, token, headers=headers, timeout=timeout)

    def register(self) -> dict:
        """A new account's session."""
        name = f"f{uuid.uuid4().hex[:12]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        reply = self.call("POST", "/auth/register", body=body)
        assert reply.status == 201, reply
        return reply.body

    def go_live(self, streamer: dict) -> tuple[int, uuid.UUID]:
        """Go live in room main; (box position, stream id)."""
        reply = self.call("POST", "/rooms/main/live", streamer, {})
        assert reply.status in (200, 201), reply
        for box in self.call("GET", "/rooms/main").body["boxes"]:
            stream = box["stream"]
            if stream and stream["streamer"]["id"] == streamer["user"]["id"]:
                return box["position"], uuid.UUID(stream["id"])
        raise AssertionError("the streamer has no box")

    def open_box(self, viewer: dict, position: int) -> None:
        """The viewer opens the box at `position`."""
        reply = self.call("POST", f"/rooms/main/boxes/{position}/viewers", viewer)
        assert reply.status in (200, 201), reply

    def close_box(self, viewer: dict, position: int) -> None:
        """The viewer closes the box at `position`."""
        reply = self.call("DELETE", f"/rooms/main/boxes/{position}/viewers", viewer)
        assert reply.status in (200, 204), reply

    def heartbeat(self, session: dict, positions: list[int]) -> dict:
        """One heartbeat; its answer."""
        reply = self.call(
            "POST", "/rooms/main/heartbeat", session, {"positions": positions}, timeout=3
        )
        return reply.body

    def end_live(self, streamer: dict) -> None:
        """The streamer ends their stream (if still live)."""
        self.call("DELETE", "/rooms/main/live", streamer)

    # --- state ------------------------------------------------------------------------------

    def stream_row(self, stream_id: uuid.UUID) -> dict[str, Any]:
        """The stream's status and publishing columns, as stored."""
        from mylivelinks.extensions import db

        with self.context():
            columns = "status, ended_reason, publishing_applied"
            if self._has_intent():
                columns += ", publishing_intent"
            row = db.session.execute(
                text(f"SELECT {columns} FROM streams WHERE id = :id"), {"id": stream_id}
            ).one()
            db.session.rollback()
            return dict(row._mapping)

    def _has_intent(self) -> bool:
        from mylivelinks.extensions import db

        return bool(
            db.session.scalar(
                text(
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE table_name = 'streams' AND column_name = 'publishing_intent'"
                )
            )
        )

    def vendor_allows(self, streamer: dict) -> bool | None:
        """Whether LiveKit's last word on the streamer's publishing was allow (None: none)."""
        identity = streamer["user"]["id"]
        permissions = [
            p
            for p in self.livekit.permissions()
            if p["identity"] == identity and p["status"] == 200
        ]
        return permissions[-1]["permission"]["can_publish"] if permissions else None

    def vendor_heard(self, streamer: dict, allowed: bool) -> bool:
        """Whether LiveKit has received (and applied) an allow/revoke for the streamer."""
        identity = streamer["user"]["id"]
        return any(
            call["handled"]
            and call["method"] == "UpdateParticipant"
            and call["request"]["identity"] == identity
            and call["request"]["permission"].get("can_publish", False) is allowed
            for call in self.livekit.fake.calls()
        )
