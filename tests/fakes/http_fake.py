"""What the fake vendor HTTP servers share: serving on 127.0.0.1 in a daemon thread.

A fake subclasses `FakeHttpServer` (or `FlakyFakeHttpServer`, which can also fail or answer
slowly on demand) and implements `_handle(handler)`, called for every request in the
server's request thread. Class attributes say where the fakes differ.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class FakeServer(ThreadingHTTPServer):
    """The HTTP server of one fake; each request is handled in a daemon thread."""

    daemon_threads = True
    fake: FakeHttpServer


class FakeHandler(BaseHTTPRequestHandler):
    """Passes GET, POST and DELETE requests to the fake's `_handle`; logs nothing.

    A fake serving other methods subclasses it (e.g. `do_PUT = FakeHandler.do_GET`).
    """

    server: FakeServer

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    do_POST = do_DELETE = do_GET

    def log_message(self, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        """The request body, as long as its Content-Length says (b"" without one)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(
        self,
        status: int,
        data: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer `status` with body `data`, its type and length, then `headers`."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class FakeHttpServer:
    """A fake vendor API served on an ephemeral 127.0.0.1 port, usable as a context manager."""

    thread_name: ClassVar[str]  # the serving thread's name, e.g. "fake-stripe"
    server_class: ClassVar[type[FakeServer]] = FakeServer
    handler_class: ClassVar[type[FakeHandler]] = FakeHandler
    reentrant_lock: ClassVar[bool] = False  # `_lock` is an RLock rather than a Lock
    poll_interval: ClassVar[float] = 0.05  # how often `serve_forever` looks for shutdown

    def __init__(self) -> None:
        self._lock = threading.RLock() if self.reentrant_lock else threading.Lock()
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Serve on an ephemeral 127.0.0.1 port in a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        server = self.server_class(("127.0.0.1", 0), self.handler_class)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            args=(self.poll_interval,),
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is started."""
        return self._server is not None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, where the vendor's client is pointed."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handle(self, handler: FakeHandler) -> None:
        """Answer one request (in the server's request thread)."""
        raise NotImplementedError


class FlakyFakeHttpServer(FakeHttpServer):
    """A fake that can be told to fail the next requests or to answer slowly.

    It only stores the wish: `_handle` takes a pending failure with `_take_failure()` and
    waits `_delay` seconds where and how that vendor's fake does.
    """

    # Whether `fail_next` adds to the failures still pending (else it replaces them).
    failures_accumulate: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self._failures: list[int] = []  # statuses for the next requests, soonest first
        self._delay = 0.0

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` requests with `status` and the vendor's error body."""
        with self._lock:
            if not self.failures_accumulate:
                self._failures.clear()
            self._failures.extend([status] * count)

    def answer_slowly(self, seconds: float) -> None:
        """Wait `seconds` before answering each request from now on (0 to stop)."""
        with self._lock:
            self._delay = seconds

    def _take_failure(self) -> int | None:
        """The status the current request must fail with, if any (call with the lock held)."""
        return self._failures.pop(0) if self._failures else None

    def _forget_faults(self) -> None:
        """Drop pending failures and slowness (call with the lock held)."""
        self._failures.clear()
        self._delay = 0.0
