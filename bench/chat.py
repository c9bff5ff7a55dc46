"""Chat messages per second over HTTP, and their latency to 200 SSE listeners of the room.

    .venv/bin/python bench/chat.py                   # 200 listeners, 20 s of posting
    .venv/bin/python bench/chat.py --seconds 5       # a quick look
    .venv/bin/python bench/chat.py --rate 100        # paced: latency at 100 messages/s

Starts the whole system with `python -m mylivelinks.dev run` (embedded PostgreSQL and Redis
in a temporary VAR_DIR, CHAT_RATE_LIMIT raised to `1000000 per second`, gunicorn's gevent
workers), seeds --users posters and one listener account straight into
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
import json
import multiprocessing
import os
import statistics
import threading
import time
import uuid
from pathlib import Path

from sse_client import SSEListener, close_all, connect_all
from system import (
    HIGH_RATE_LIMIT,
    LONG_LIVED,
    KeepAliveClient,
    log,
    run_threads,
    running_system,
    seeding_app,
)

TAG_MARK = b'"body":"'


def seed(var_dir: Path, users: int) -> tuple[list[str], str]:
    """`users` posters and one listener account; their access tokens."""
    from mylivelinks.extensions import db
    from mylivelinks.models import Profile
    from mylivelinks.services.accounts.tokens import mint_access_token

    app = seeding_app(var_dir, **LONG_LIVED)
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


class Listener(SSEListener):
    """One SSE connection; the time each chat message (by its body tag) arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.received: dict[bytes, float] = {}

    def handle(self, block: bytes, arrived: float, read: float) -> None:
        if b"event: chat:message" in block:
            # The tag is ASCII without quotes: no JSON parsing needed to find it.
            start = block.find(TAG_MARK)
            if start >= 0:
                start += len(TAG_MARK)
                self.received[block[start : block.index(b'"', start)]] = read


async def _listen(port: int, token: str, count: int, pipe) -> None:
    path = f"/api/v1/rooms/main/events?access_token={token}"
    listeners = [Listener() for _ in range(count)]
    tasks, connect_seconds = await connect_all(listeners, f"http://127.0.0.1:{port}", path, 50)
    connected = [one for one in listeners if one.connected]
    pipe.send({"connected": len(connected), "connect_seconds": connect_seconds})
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
    await close_all(tasks)
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
        connection = KeepAliveClient(port)
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
            status = connection.post("/api/v1/rooms/main/chat", body, headers)
            local.append((tag, sent_at, time.perf_counter() - started, status))
            if interval:
                next_at += interval
                time.sleep(max(0.0, next_at - time.time()))
        connection.close()
        with lock:
            results.extend(local)

    run_threads(run, range(threads))
    return results


def measure(args: argparse.Namespace, var_dir: Path, port: int, posting: int) -> None:
    """Seed, connect the listeners, post, print the report."""
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
        log(
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
            "cpus": os.cpu_count(),
        }
        print(json.dumps(report), flush=True)
    finally:
        if listener is not None and listener.is_alive():
            listener.terminate()
            listener.join(10)


def main() -> None:
    """Start the system, measure in it, stop it."""
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
    with running_system(
        "chat-bench-",
        keep=args.keep,
        web_workers=args.web_workers,
        extra={"CHAT_RATE_LIMIT": HIGH_RATE_LIMIT},
    ) as (var_dir, port):
        measure(args, var_dir, port, posting)


if __name__ == "__main__":
    main()
