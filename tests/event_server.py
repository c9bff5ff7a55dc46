"""The API served by gunicorn's gevent worker as `make run` serves it, and raw SSE clients.

`EventServer` runs `gunicorn wsgi:app` (the arguments of `mylivelinks.dev`) in a process
group of its own, on the session's PostgreSQL and Redis. `EventStream` is one event stream
on a plain socket (HTTP/1.1, chunked body, SSE blocks), so a test can hold thousands of
them, read them all with one selector, or never read one at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mylivelinks.dev import gunicorn_arguments
from tests.processes import HOST, ChildProcess, JsonClient, free_port, server_environment


class EventServer(JsonClient):
    """gunicorn serving the API with gevent workers; `settings` become its environment."""

    def __init__(self, server_urls: dict[str, str], log_path: Path, **settings: Any):
        super().__init__(free_port(), timeout=10)
        self.log_path = log_path
        self.env = server_environment(
            # Its users all register from 127.0.0.1.
            REGISTER_RATE_LIMIT="10000 per minute",
            **server_urls,
            **{name: str(value) for name, value in settings.items()},
        )
        self.process: ChildProcess | None = None

    @property
    def listeners(self) -> int:
        """The SSE_MAX_LISTENERS the server runs with."""
        return int(self.env.get("SSE_MAX_LISTENERS", 10000))

    def start(self, timeout: float = 60) -> EventServer:
        """Start one gevent worker and wait until /readyz answers 200."""
        command = gunicorn_arguments(HOST, self.port, 1, self.listeners)
        self.process = ChildProcess("gunicorn", command, self.env, self.log_path).start()
        self.process.wait_ready(self, timeout)
        return self

    def stop(self, signum: int = signal.SIGKILL) -> None:
        """Send `signum` to the server's process group and wait until it has all exited."""
        if self.process is not None:
            self.process.stop(signum, grace=15)

    def log(self) -> str:
        """The tail of the server's output."""
        return self.process.log() if self.process else "(never started)"

    def register(self) -> dict:
        """Register a fresh account over HTTP; the 201 body (user, access_token, ...)."""
        name = f"es_{os.urandom(5).hex()}"
        reply = self.request(
            "POST",
            "/api/v1/auth/register",
            {"username": name, "email": f"{name}@example.com", "password": "correct horse"},
        )
        assert reply.status == 201, reply
        return reply.body

    def open_stream(self, slug: str, token: str, **options: Any) -> EventStream:
        """Open the room stream of `slug` as the bearer of `token`."""
        return EventStream(self.port, f"/api/v1/rooms/{slug}/events", token, **options)


@dataclass
class Block:
    """One SSE block: its fields (`id`, `event`, `data`, `retry`), or a comment."""

    fields: dict[str, str] = field(default_factory=dict)
    comment: str | None = None
    received_at: float = 0.0


class EventStream:
    """A GET of an event stream on a raw socket, parsed as bytes arrive (`feed`)."""

    def __init__(
        self,
        port: int,
        path: str,
        token: str,
        *,
        last_event_id: str | None = None,
        rcvbuf: int | None = None,
    ):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connecting, so the window the server sees is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(30)
        self.sock.connect((HOST, port))
        headers = [f"GET {path}?{urlencode({'access_token': token})} HTTP/1.1", f"Host: {HOST}"]
        headers += ["Accept: text/event-stream"]
        if last_event_id:
            headers.append(f"Last-Event-ID: {last_event_id}")
        self.sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        self.sock.setblocking(False)
        self.raw = b""
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""  # the decoded body not yet parsed into blocks
        self.blocks: list[Block] = []
        self.closed = False  # the server ended the response or the connection
        self._chunked = False
        self._length: int | None = None

    def fileno(self) -> int:
        """The socket's descriptor (for selectors)."""
        return self.sock.fileno()

    @property
    def events(self) -> list[Block]:
        """The blocks that carry an event."""
        return [block for block in self.blocks if "event" in block.fields]

    @property
    def ids(self) -> list[str]:
        """The ids of the events received, in order."""
        return [block.fields["id"] for block in self.events]

    def json(self) -> Any:
        """The body of a non-streaming answer (an error envelope), once complete."""
        return json.loads(self.body)

    def feed(self) -> bool:
        """Take what the socket holds without waiting; False once the server has closed."""
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError:
                self.closed = True
                break
            if not data:
                self.closed = True
                break
            self.raw += data
            self._parse(time.monotonic())
        return not self.closed

    def _parse(self, now: float) -> None:
        if self.status is None:
            head, sep, rest = self.raw.partition(b"\r\n\r\n")
            if not sep:
                return
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
            self._chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
            if "content-length" in self.headers:
                self._length = int(self.headers["content-length"])
            self.raw = rest
        if self._chunked:
            while True:
                size_line, sep, rest = self.raw.partition(b"\r\n")
                if not sep:
                    break
                size = int(size_line.split(b";")[0], 16)
                if len(rest) < size + 2:
                    break
                if size == 0:
                    self.closed = True
                self.body += rest[:size]
                self.raw = rest[size + 2 :]
        else:
            self.body += self.raw
            self.raw = b""
            if self._length is not None and len(self.body) >= self._length:
                self.closed = True
        if self.status == 200:
            self._blocks(now)

    def _blocks(self, now: float) -> None:
        *complete, self.body = self.body.split(b"\n\n")
        for text in complete:
            block = Block(received_at=now)
            for line in text.decode().split("\n"):
                if line.startswith(":"):
                    block.comment = line[1:].strip()
                else:
                    name, _, value = line.partition(":")
                    block.fields[name] = value[1:] if value.startswith(" ") else value
            self.blocks.append(block)

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self.sock.close()


def wait_for(
    streams: Iterable[EventStream],
    done: Callable[[EventStream], bool],
    timeout: float,
) -> list[EventStream]:
    """Read `streams` until `done` holds for each (or it has closed); those still not done
    after `timeout` seconds."""
    streams = list(streams)
    pending = {stream.fileno(): stream for stream in streams}
    selector = selectors.DefaultSelector()
    for fd, stream in list(pending.items()):
        stream.feed()
        if done(stream) or stream.closed:
            del pending[fd]
        else:
            selector.register(fd, selectors.EVENT_READ, stream)
    deadline = time.monotonic() + timeout
    try:
        while pending and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(min(remaining, 0.5)):
                stream = key.data
                stream.feed()
                if done(stream) or stream.closed:
                    selector.unregister(key.fd)
                    del pending[key.fd]
    finally:
        selector.close()
    return [stream for stream in streams if not done(stream)]


def started(stream: EventStream) -> bool:
    """Whether the stream has its first block (`retry:` and the id it starts after), or an
    answer other than 200 in full."""
    if stream.status is not None and stream.status != 200:
        return stream.closed
    return bool(stream.blocks) and "retry" in stream.blocks[0].fields
