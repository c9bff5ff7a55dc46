"""The event streams of this process: how many it takes, and who they keep present.

A process admits SSE_MAX_LISTENERS streams and answers a new one past them with 503 and
Retry-After, so listeners never make other requests wait (`admit`). A write the client does
not take within SSE_SEND_TIMEOUT_SECONDS drops its stream (`drop_when_stuck`): its socket
buffer is full, and it resumes with `Last-Event-ID` once it reads again. While a viewer's
room stream is open, the process marks them present in the boxes of that room they have
open, all its listeners every SSE_PRESENCE_SECONDS in one Redis call per 500 of them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app

from mylivelinks.services.errors import Unavailable
from mylivelinks.services.rooms.presence import refresh_listening

log = logging.getLogger(__name__)

# What a client turned away at the listener limit is told to wait, in seconds.
LISTENER_LIMIT_RETRY_AFTER = 5


class Listeners:
    """This process's open event streams: how many, and which viewers listen to which room.

    A thread (a greenlet under gevent) started with the first room listener marks every
    listening viewer present in the boxes of that room they have open every
    SSE_PRESENCE_SECONDS (one Redis call per 500 of them), for as long as the process lives.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.count = 0
        self.viewers: dict[tuple[uuid.UUID, str], int] = {}
        self.pump: threading.Thread | None = None

    def admit(self, limit: int) -> bool:
        """Count one more stream unless `limit` streams are open."""
        with self.lock:
            if self.count >= limit:
                return False
            self.count += 1
            return True

    def release(self) -> None:
        """Count one stream fewer."""
        with self.lock:
            self.count -= 1

    def listen(self, viewer_id: uuid.UUID, slug: str) -> None:
        """The viewer's room stream opened: they are present while it stays open."""
        with self.lock:
            key = (viewer_id, slug)
            self.viewers[key] = self.viewers.get(key, 0) + 1
            if self.pump is None:
                self.pump = threading.Thread(
                    target=self._refresh_forever, name="sse-presence", daemon=True
                )
                self.pump.start()

    def stop_listening(self, viewer_id: uuid.UUID, slug: str) -> None:
        """The viewer's room stream closed: their heartbeats (or the timeout) take over."""
        with self.lock:
            key = (viewer_id, slug)
            if self.viewers.get(key, 0) <= 1:
                self.viewers.pop(key, None)
            else:
                self.viewers[key] -= 1

    def _refresh_forever(self) -> None:
        with self.app.app_context():
            interval = self.app.config["SSE_PRESENCE_SECONDS"]
            while True:
                with self.lock:
                    listening = list(self.viewers)
                try:
                    refresh_listening(listening, datetime.now(UTC))
                except Exception:
                    log.warning("listeners' presence not refreshed", exc_info=True)
                time.sleep(interval)


def listeners() -> Listeners:
    """This app's event streams in this process."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions.setdefault("event_listeners", Listeners(app))


def admit() -> Callable[[], None]:
    """Count one more event stream against SSE_MAX_LISTENERS; the function that counts it
    out (call it once the server has closed the stream). Unavailable (503, Retry-After)
    when this process is full."""
    listening = listeners()
    if not listening.admit(current_app.config["SSE_MAX_LISTENERS"]):
        raise Unavailable(
            "This server holds as many event streams as it may; try again shortly.",
            retry_after=LISTENER_LIMIT_RETRY_AFTER,
        )
    return listening.release


def drop_when_stuck(environ: dict[str, Any]) -> None:
    """Give up a write the client does not take within SSE_SEND_TIMEOUT_SECONDS (gunicorn
    hands the connection's socket over; other servers keep their own timeouts)."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(current_app.config["SSE_SEND_TIMEOUT_SECONDS"])
