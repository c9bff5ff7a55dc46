"""Chat messages per second over HTTP, and their latency to 200 SSE listeners of the room.

    .venv/bin/python bench/chat.py                   # 200 listeners, 20 s of posting
    .venv/bin/python bench/chat.py --seconds 5       # a quick look
    .venv/bin/python bench/chat.py --rate 100        # paced: latency at 100 messages/s

Starts the whole system with `python -m mylivelinks.dev run` (embedded PostgreSQL and Redis
in a temporary VAR_DIR, CHAT_RATE_LIMIT raised to `1000000 per second`, enough gunicorn
threads for every listener), seeds --users posters and one listener account straight into
the database, then:

* a listener process holds --listeners SSE connections on
  `GET /api/v1/rooms/main/events?access_token=…` (asyncio raw sockets, standard library
  only, as bench/sse_fanout.py does) and notes when each `chat:message` reaches each;
* once all are connected, --client-processes x --client-threads keep-alive connections post
  `POST /api/v1/rooms/main/chat` for --seconds, each from the next of the users, each body
  a unique tag; as fast as the server answers, or --rate messages per second in all.

Latency is receipt on a listener minus the moment the POST was sent (one clock: same
machine), over every accepted message and connected listener. Prints one JSON line:
messages accepted per second, POST latency, delivery p50/p95/p99/max, deliveries against
expected. The listener and the posters share the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import gifts  # bench/gifts.py: starting, seeding and stopping the system

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HIGH_RATE_LIMIT = "1000000 per second"
TAG_MARK = b'"body":"'


def seed(var_dir: Path, users: int) -> tuple[list[str], str]:
    """`users` posters and one listener account; their access tokens."""
    from mylivelinks.extensions import db
    from mylivelinks.models import Profile
    from mylivelinks.services.tokens import mint_access_token

    app = gifts.seeding_app(var_dir)
    with app.app_context():
        people = [
            Profile(id=uuid.uuid4(), username=f"chat_user_{i}", email=f"chat{i}@bench.test")
            for i in range(users)
        ]
        listener = Profile(id=uuid.uuid4(), username="chat_listener", email="cl@bench.test")
        db.session.add_all([*people, listener])
        db.session.commit()
        return [mint_access_token(p)[0] for p in people], mint_access_token(listener)[0]


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


class Listener:
    """One SSE connection; the time each chat message (by its body tag) arrived."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.connected = False
        self.received: dict[bytes, float] = {}
        self.error: str | None = None

    async def run(self, port: int, path: str, connect: asyncio.Semaphore) -> None:
        """Connect, then read events until cancelled."""
        writer = None
        try:
            async with connect:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
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
                    self.connected = True
                    self.ready.set()
                elif b"event: chat:message" in block:
                    # The tag is ASCII without quotes: no JSON parsing needed to find it.
                    start = block.find(TAG_MARK)
                    if start >= 0:
                        start += len(TAG_MARK)
                        self.received[block[start : block.index(b'"', start)]] = received


async def _listen(port: int, token: str, count: int, pipe) -> None:
    path = f"/api/v1/rooms/main/events?access_token={token}"
    listeners = [Listener() for _ in range(count)]
    connect = asyncio.Semaphore(50)
    started = time.perf_counter()
    tasks = [asyncio.create_task(one.run(port, path, connect)) for one in listeners]
    await asyncio.wait_for(asyncio.gather(*(one.ready.wait() for one in listeners)), 120)
    connected = [one for one in listeners if one.connected]
    pipe.send({"connected": len(connected), "connect_seconds": time.perf_counter() - started})
    loop = asyncio.get_running_loop()
    sent: dict[bytes, float] = await loop.run_in_executor(None, pipe.recv)
    # Wait for the stragglers: until everything arrived, or nothing more for 3 s.
    deadline, last_total, last_change = time.monotonic() + 30, -1, time.monotonic()
    expected = len(sent) * len(connected)
    while time.monotonic() < deadline:
        total = sum(len(one.received) for one in connected)
        if total >= expected:
            break
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change > 3:
            break
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted(
        (at - sent[tag]) * 1000
        for one in connected
        for tag, at in one.received.items()
        if tag in sent
    )
    errors = [one.error for one in listeners if one.error]
    pipe.send(
        {
            "deliveries": len(latencies),
            "expected_deliveries": expected,
            "listener_errors": len(errors),
            "first_listener_error": errors[0] if errors else None,
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
            "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
            "max_ms": round(latencies[-1], 1) if latencies else None,
        }
    )


def listener_process(port: int, token: str, count: int, pipe) -> None:
    """The listeners, in a process of their own."""
    asyncio.run(_listen(port, token, count, pipe))


def _poster(args: tuple) -> list[tuple[str, float, float, int]]:
    """One client process: threads posting messages; (tag, sent_at, latency, status) each."""
    port, tokens, start_at, stop_at, threads, interval, process_index, slots = args
    results: list[tuple[str, float, float, int]] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        mine = tokens[index::threads]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local = []
        seq = 0
        # Paced senders are spread evenly over the interval.
        next_at = start_at + interval * (process_index * threads + index) / slots
        time.sleep(max(0.0, next_at - time.time()))
        while time.time() < stop_at:
            tag = f"m{process_index}.{index}.{seq}"
            body = json.dumps({"body": tag})
            headers = {
                "Authorization": f"Bearer {mine[seq % len(mine)]}",
                "Content-Type": "application/json",
            }
            seq += 1
            sent_at = time.time()
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/v1/rooms/main/chat", body=body, headers=headers)
                reply = connection.getresponse()
                reply.read()
                status = reply.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = 0
            local.append((tag, sent_at, time.perf_counter() - started, status))
            if interval:
                next_at += interval
                time.sleep(max(0.0, next_at - time.time()))
        connection.close()
        with lock:
            results.extend(local)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def main() -> None:
    """Start, seed, connect the listeners, post, report, stop."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20, help="of posting")
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--users", type=int, default=1000, help="posting accounts")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--client-threads", type=int, default=8, help="per process")
    parser.add_argument(
        "--rate", type=float, help="messages per second in all (default: as fast as answered)"
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR")
    args = parser.parse_args()

    posting = args.client_processes * args.client_threads
    # Each open stream holds a thread: enough for all of them in one worker, plus the posts.
    web_threads = args.listeners + posting + 16
    base = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    var_dir = base / "var"
    port = gifts.free_port()
    gifts.log(f"starting the system in {var_dir} on port {port}")
    system = gifts.start_system(
        var_dir,
        port,
        web_workers=args.web_workers,
        web_threads=web_threads,
        extra={"CHAT_RATE_LIMIT": HIGH_RATE_LIMIT},
    )
    context = multiprocessing.get_context("spawn")
    listener = None
    try:
        tokens, listener_token = seed(var_dir, args.users)
        ours, theirs = context.Pipe()
        listener = context.Process(
            target=listener_process, args=(port, listener_token, args.listeners, theirs)
        )
        listener.start()
        connected = ours.recv()
        gifts.log(
            f"{connected['connected']} of {args.listeners} listeners connected "
            f"in {connected['connect_seconds']:.1f} s; posting for {args.seconds} s"
        )
        interval = posting / args.rate if args.rate else 0.0
        start_at = time.time() + 1.0
        stop_at = start_at + args.seconds
        jobs = [
            (
                port,
                tokens[i :: args.client_processes],
                start_at,
                stop_at,
                args.client_threads,
                interval,
                i,
                posting,
            )
            for i in range(args.client_processes)
        ]
        with context.Pool(args.client_processes) as pool:
            chunks = pool.map(_poster, jobs, chunksize=1)
        posts = [post for chunk in chunks for post in chunk]
        accepted = [post for post in posts if post[3] == 201]
        ours.send({tag.encode(): sent_at for tag, sent_at, _, _ in accepted})
        delivery = ours.recv()
        listener.join(30)
        errors: dict[str, int] = {}
        for *_, status in posts:
            if status != 201:
                errors[str(status)] = errors.get(str(status), 0) + 1
        post_ms = sorted(latency * 1000 for _, _, latency, status in accepted)
        report = {
            "listeners": args.listeners,
            "connected": connected["connected"],
            "connect_seconds": round(connected["connect_seconds"], 1),
            "users": args.users,
            "posting_connections": posting,
            "rate_target": args.rate,
            "seconds": args.seconds,
            "accepted": len(accepted),
            "accepted_per_s": round(len(accepted) / args.seconds, 1),
            "post_errors": errors,
            "post_p50_ms": round(statistics.median(post_ms), 1) if post_ms else None,
            "post_p95_ms": round(percentile(post_ms, 0.95), 1) if post_ms else None,
            "delivery": delivery,
            "web_workers": args.web_workers,
            "web_threads": web_threads,
            "cpus": os.cpu_count(),
        }
        print(json.dumps(report), flush=True)
    finally:
        if listener is not None and listener.is_alive():
            listener.terminate()
            listener.join(10)
        gifts.stop_system(system)
        if args.keep:
            gifts.log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
