"""Fan-out latency: one room event received by many SSE clients of a running server.

Start the system with `make run` (or point --base-url elsewhere), then:
    .venv/bin/python bench/sse_fanout.py --clients 500 --events 20

The clients are asyncio raw-socket connections in this process (standard library only).
Events are published to the room's Redis stream the way the app does it
(`publish_room_event`), each carrying its publish time; a client's latency is its receive
time minus that. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from flask import Flask
from redis import Redis
from sse_client import SSEListener, close_all, connect_all

from mylivelinks.events.streams import publish_room_event

EVENT_TYPE = "bench:ping"


def register(base: str) -> str:
    """Register a fresh account; returns its access token."""
    name = f"sse_{uuid.uuid4().hex[:10]}"
    body = {"username": name, "email": f"{name}@bench.test", "password": "bench-password"}
    request = urllib.request.Request(
        base + "/api/v1/auth/register",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


class Client(SSEListener):
    """One SSE connection; records the latency of every bench event it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies: dict[int, float] = {}

    def handle(self, block: bytes, received: float) -> None:
        fields = dict(line.partition(b": ")[::2] for line in block.split(b"\n"))
        if fields.get(b"event") == EVENT_TYPE.encode():
            data = json.loads(fields[b"data"])
            self.latencies[data["seq"]] = received - data["sent_at"]


async def bench(args: argparse.Namespace, token: str) -> dict:
    """Connect the clients, publish the events, gather the latencies."""
    query = urllib.parse.urlencode({"access_token": token})
    path = f"/api/v1/rooms/{args.room}/events?{query}"
    publisher = Flask("sse_fanout")
    publisher.extensions["redis"] = Redis.from_url(args.redis_url)

    clients = [Client() for _ in range(args.clients)]
    tasks, connect_seconds = await connect_all(
        clients, args.base_url, path, args.connect_concurrency
    )
    connected = [client for client in clients if client.connected]

    for seq in range(args.events):
        await asyncio.sleep(args.interval)
        with publisher.app_context():
            publish_room_event(args.room, EVENT_TYPE, {"seq": seq, "sent_at": time.time()})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(len(client.latencies) == args.events for client in connected):
            break
        await asyncio.sleep(0.1)
    await close_all(tasks)

    latencies = sorted(ms * 1000 for c in connected for ms in c.latencies.values())
    # Per event: when its last client had it (the fan-out is complete).
    slowest = [
        max(c.latencies[seq] for c in connected if seq in c.latencies) * 1000
        for seq in range(args.events)
        if any(seq in c.latencies for c in connected)
    ]
    errors = [client.error for client in clients if client.error]
    return {
        "clients": args.clients,
        "connected": len(connected),
        "errors": len(errors),  # failed to connect, or dropped before the end
        "first_error": errors[0] if errors else None,
        "connect_seconds": round(connect_seconds, 2),
        "events": args.events,
        "deliveries": len(latencies),
        "expected_deliveries": len(connected) * args.events,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "last_client_median_ms": round(statistics.median(slowest), 1) if slowest else None,
    }


def default_redis_url() -> str:
    """REDIS_URL, else the socket of the embedded Redis that `make run` starts."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    var = Path(os.environ.get("VAR_DIR") or Path(__file__).parent.parent / "var").resolve()
    return f"unix://{var / 'redis' / 'redis.sock'}"


def main() -> None:
    """Parse the options, get a token, run the benchmark, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("BASE_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--redis-url", default=default_redis_url(), help="the server's Redis")
    parser.add_argument("--room", default="main")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between events")
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--token", help="an access token (default: register a new account)")
    args = parser.parse_args()
    token = args.token or register(args.base_url)
    print(json.dumps(asyncio.run(bench(args, token))))


if __name__ == "__main__":
    main()
