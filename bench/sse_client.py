"""Server-Sent Events listeners on raw non-blocking sockets in an asyncio loop (uvloop).

`SSEListener.run` connects, sends the GET, checks the status, then reads the stream (chunked
or not) and hands each event block to `handle`, which a subclass defines, with two times:
when the block's bytes arrived at the listener's socket (the kernel's receive timestamp,
SO_TIMESTAMPNS) and when the listener read them. The stream's first block (`retry:`) marks
the listener connected. `connect_all` starts many of them and waits until every one is
connected or has failed; `close_all` cancels them.

Why two times: the listeners share the machine's cores with the server they measure. The
arrival time is what a client on another machine would see (minus the network): the moment
the server's write reached it. The read time adds however long this process took to get to
the socket, which grows with the listeners' own CPU, not the server's.

The socket is read in a reader callback (`loop.add_reader`) rather than by a coroutine: a
callback costs several times less CPU per event than waking a task for each chunk, and
`recvmsg` is what returns the receive timestamp.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import urllib.parse

# Linux: the receive time of a socket's data, as a struct timespec in each recvmsg's
# ancillary data (the standard library names SO_TIMESTAMP but not its nanosecond sibling).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("@qq")
RECEIVE_BYTES = 65536
ANCILLARY_BYTES = socket.CMSG_SPACE(TIMESPEC.size)


class SSEListener:
    """One SSE connection; `handle(block, arrived, read)` sees every event block."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.connected = False
        self.error: str | None = None

    def handle(self, block: bytes, arrived: float, read: float) -> None:
        """One event block (without its blank line) after the stream's opening `retry:`
        block: its bytes arrived at the socket at `arrived` and were read at `read`
        (both time.time())."""
        raise NotImplementedError

    async def run(
        self, url: urllib.parse.SplitResult, path: str, connect: asyncio.Semaphore
    ) -> None:
        """Connect, then read events until cancelled."""
        loop = asyncio.get_running_loop()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        stream = _SSEStream(self, sock, loop.create_future(), loop.create_future())
        reading = False
        try:
            async with connect:
                await loop.sock_connect(sock, (url.hostname or "127.0.0.1", url.port or 80))
                await loop.sock_sendall(sock, request)
                loop.add_reader(sock.fileno(), stream.readable)
                reading = True
                await stream.answered
            await stream.ended
        except (OSError, ConnectionError) as exc:
            self.error = repr(exc)
            self.ready.set()
        finally:
            if reading:
                loop.remove_reader(sock.fileno())
            sock.close()

    def _block(self, block: bytes, arrived: float, read: float) -> None:
        if block.startswith(b"retry:"):
            # The stream has begun: this listener counts, and stops being waited for.
            self.connected = True
            self.ready.set()
        else:
            self.handle(block, arrived, read)


class _SSEStream:
    """The HTTP exchange of one listener: the status and headers, then the event blocks."""

    def __init__(
        self,
        listener: SSEListener,
        sock: socket.socket,
        answered: asyncio.Future[None],
        ended: asyncio.Future[None],
    ) -> None:
        self.listener = listener
        self.sock = sock
        self.answered = answered  # the status line and headers are in
        self.ended = ended  # fails with why the stream stopped
        self.raw = b""  # received, not yet parsed
        self.body = b""  # the body, not yet split into blocks
        self.head_done = False
        self.chunked = False

    def readable(self) -> None:
        """Read what the socket holds and hand on the complete blocks."""
        if self.ended.done():
            return
        try:
            data, ancillary, _, _ = self.sock.recvmsg(RECEIVE_BYTES, ANCILLARY_BYTES)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(exc)
            return
        read = time.time()
        if not data:
            self._fail(ConnectionError("the stream ended"))
            return
        arrived = read
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = TIMESPEC.unpack_from(value)
                arrived = seconds + nanoseconds / 1e9
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
            self.listener._block(block, arrived, read)

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
