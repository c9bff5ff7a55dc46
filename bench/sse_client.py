"""Server-Sent Events listeners on asyncio protocols (standard library only).

`SSEListener.run` connects, sends the GET, checks the status, then reads the stream (chunked
or not) and hands each event block, with the time its bytes arrived, to `handle`, which a
subclass defines. The stream's first block (`retry:`) marks the listener connected.
`connect_all` starts many of them and waits until every one is connected or has failed;
`close_all` cancels them.

The bytes are parsed in the protocol's `data_received` callback rather than by a coroutine
reading a StreamReader: the clients share the cores with the server they measure, and a
callback costs several times less CPU per event than waking a task for each chunk.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse


class SSEListener:
    """One SSE connection; `handle(block, received)` sees every event block."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.connected = False
        self.error: str | None = None

    def handle(self, block: bytes, received: float) -> None:
        """One event block (without its blank line), received at `received` (time.time()),
        after the stream's opening `retry:` block."""
        raise NotImplementedError

    async def run(
        self, url: urllib.parse.SplitResult, path: str, connect: asyncio.Semaphore
    ) -> None:
        """Connect, then read events until cancelled."""
        loop = asyncio.get_running_loop()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        stream = _SSEProtocol(self, request, loop.create_future(), loop.create_future())
        transport = None
        try:
            async with connect:
                transport, _ = await loop.create_connection(
                    lambda: stream, url.hostname, url.port or 80
                )
                await stream.answered
            await stream.ended
        except (OSError, ConnectionError) as exc:
            self.error = repr(exc)
            self.ready.set()
        finally:
            if transport is not None:
                transport.close()

    def _block(self, block: bytes, received: float) -> None:
        if block.startswith(b"retry:"):
            # The stream has begun: this listener counts, and stops being waited for.
            self.connected = True
            self.ready.set()
        else:
            self.handle(block, received)


class _SSEProtocol(asyncio.Protocol):
    """The HTTP exchange of one listener: the status and headers, then the event blocks."""

    def __init__(
        self,
        listener: SSEListener,
        request: bytes,
        answered: asyncio.Future[None],
        ended: asyncio.Future[None],
    ) -> None:
        self.listener = listener
        self.request = request
        self.answered = answered  # the status line and headers are in
        self.ended = ended  # fails with why the stream stopped
        self.raw = b""  # received, not yet parsed
        self.body = b""  # the body, not yet split into blocks
        self.head_done = False
        self.chunked = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        received = time.time()
        self.raw += data
        try:
            if not self.head_done and not self._head():
                return
            if self.chunked:
                self.body += self._unchunk()
            else:
                self.body, self.raw = self.body + self.raw, b""
        except ConnectionError as exc:
            self._fail(exc)
            return
        *blocks, self.body = self.body.split(b"\n\n")
        for block in blocks:
            self.listener._block(block, received)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("the stream ended"))

    def _head(self) -> bool:
        head, found, rest = self.raw.partition(b"\r\n\r\n")
        if not found:
            return False
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status:
            raise ConnectionError(status.decode().strip())
        self.chunked = b"transfer-encoding: chunked" in head.lower()
        self.head_done = True
        self.raw = rest
        if not self.answered.done():
            self.answered.set_result(None)
        return True

    def _unchunk(self) -> bytes:
        raw, position, data = self.raw, 0, []
        while (line_end := raw.find(b"\r\n", position)) >= 0:
            size = int(raw[position:line_end].split(b";")[0], 16)
            if size == 0:
                raise ConnectionError("the stream ended")
            start, end = line_end + 2, line_end + 2 + size
            if len(raw) < end + 2:
                break
            data.append(raw[start:end])
            position = end + 2
        self.raw = raw[position:]
        return b"".join(data)

    def _fail(self, exc: Exception) -> None:
        for future in (self.answered, self.ended):
            if not future.done():
                future.set_exception(exc)
        # Read by nobody when the listener was cancelled; marked so asyncio does not warn.
        for future in (self.answered, self.ended):
            if not future.cancelled():
                future.exception()


async def connect_all(
    listeners: list[SSEListener], url: str, path: str, concurrency: int
) -> tuple[list[asyncio.Task], float]:
    """Start every listener on `url` + `path`, at most `concurrency` connecting at once; wait
    (up to 120 s) until each is connected or has failed. Their tasks, and the seconds taken."""
    split = urllib.parse.urlsplit(url)
    connect = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    tasks = [asyncio.create_task(one.run(split, path, connect)) for one in listeners]
    await asyncio.wait_for(asyncio.gather(*(one.ready.wait() for one in listeners)), 120)
    return tasks, time.perf_counter() - started


async def close_all(tasks: list[asyncio.Task]) -> None:
    """Cancel the listeners' tasks and wait for them to end."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
