"""Server-Sent Events listeners on asyncio raw sockets (standard library only).

`SSEListener.run` connects, sends the GET, checks the status, then reads the stream (chunked
or not) and hands each event block, with the time its bytes arrived, to `handle`, which a
subclass defines. The stream's first block (`retry:`) marks the listener connected.
`connect_all` starts many of them and waits until every one is connected or has failed;
`close_all` cancels them.
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
        writer = None
        try:
            async with connect:
                reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                    "Accept: text/event-stream\r\n\r\n".encode()
                )
                await writer.drain()
                status = await reader.readline()
                headers = (await reader.readuntil(b"\r\n\r\n")).lower()
            if b" 200 " not in status:
                raise ConnectionError(status.decode().strip())
            await self._read(reader, b"transfer-encoding: chunked" in headers)
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.error = repr(exc)
            self.ready.set()
        finally:
            if writer is not None:
                writer.close()

    async def _read(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        buffer = b""
        while True:
            if chunked:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    raise ConnectionError("the stream ended")
                data = (await reader.readexactly(size + 2))[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("the stream ended")
            received = time.time()
            buffer += data
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                if block.startswith(b"retry:"):
                    # The stream has begun: this listener counts, and stops being waited for.
                    self.connected = True
                    self.ready.set()
                else:
                    self.handle(block, received)


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
