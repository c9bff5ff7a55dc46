"""Batched heartbeats per second over HTTP: 2,000 viewers each holding 3 boxes.

    .venv/bin/python bench/heartbeats.py --seconds 20 --web-workers 2

Starts the whole system with `python -m mylivelinks.dev run` (embedded PostgreSQL and
Redis in a temporary VAR_DIR), seeds 12 live streamers and the viewers straight into the
database, then client processes send `POST /api/v1/rooms/main/heartbeat` with three
positions each, over keep-alive connections, for --seconds; then the same clients load
`GET /healthz` for as long, the ceiling of the web stack and these clients on the machine.
Prints one JSON line: requests/s, p50/p95/p99 latency and errors of both, and their ratio.
The clients share the machine's cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from system import run_threads, running_system, seeding_app


def seed(var_dir: Path, viewers: int) -> list[str]:
    """12 live streamers in `main` and `viewers` viewers with 3 boxes open; their tokens."""
    from mylivelinks.extensions import db
    from mylivelinks.models import Profile
    from mylivelinks.services.accounts.tokens import mint_access_token
    from mylivelinks.services.rooms import live, watching
    from mylivelinks.services.rooms.state import get_room

    app = seeding_app(var_dir)
    now = datetime.now(UTC)
    with app.app_context():
        for index in range(12):
            streamer = Profile(username=f"hb_streamer_{index}", email=f"hbs{index}@bench.test")
            db.session.add(streamer)
            db.session.flush()
            live.go_live(get_room("main", lock=True), streamer, title=None, position=None, now=now)
        people = [
            Profile(id=uuid.uuid4(), username=f"hb_viewer_{i}", email=f"hbv{i}@bench.test")
            for i in range(viewers)
        ]
        db.session.add_all(people)
        db.session.flush()
        rng = random.Random(7)
        room = get_room("main")
        by_viewer: dict[uuid.UUID, list[int]] = {}
        for person in people:
            by_viewer[person.id] = sorted(rng.sample(range(1, 13), 3))
            for position in by_viewer[person.id]:
                watching.open_box(room, position, person, now)
        db.session.commit()
        return [
            json.dumps({"token": mint_access_token(person)[0], "positions": by_viewer[person.id]})
            for person in people
        ]


def _client(args: tuple[int, list[str], float, int, bool]) -> list[tuple[float, int]]:
    port, viewers, seconds, threads, baseline = args
    import threading

    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(mine: list[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local = []
        index = 0
        while time.monotonic() < stop_at:
            viewer = json.loads(mine[index % len(mine)])
            index += 1
            body = json.dumps({"positions": viewer["positions"]})
            started = time.perf_counter()
            if baseline:
                connection.request("GET", "/healthz")
            else:
                connection.request(
                    "POST",
                    "/api/v1/rooms/main/heartbeat",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {viewer['token']}",
                        "Content-Type": "application/json",
                    },
                )
            reply = connection.getresponse()
            reply.read()
            local.append((time.perf_counter() - started, reply.status))
        connection.close()
        with lock:
            results.extend(local)

    run_threads(run, [viewers[i::threads] for i in range(threads)])
    return results


def _summary(samples: list[tuple[float, int]], seconds: float) -> dict:
    latencies = sorted(latency for latency, _ in samples)
    quantile = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(samples),
        "requests_per_s": round(len(samples) / seconds),
        "p50_ms": round(quantile[49] * 1000, 1),
        "p95_ms": round(quantile[94] * 1000, 1),
        "p99_ms": round(quantile[98] * 1000, 1),
        "errors": sum(1 for _, status in samples if status != 200),
    }


def main() -> None:
    """Start, seed, load, report, stop."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--client-threads", type=int, default=16)
    args = parser.parse_args()
    with running_system("heartbeat-bench-", web_workers=args.web_workers, ready_timeout=120) as (
        var_dir,
        port,
    ):
        viewers = seed(var_dir, args.viewers)
        shares = [viewers[i :: args.client_processes] for i in range(args.client_processes)]
        report = {"viewers": args.viewers, "boxes_each": 3, "web_workers": args.web_workers}
        for name, baseline in (("heartbeat", False), ("healthz", True)):
            jobs = [(port, share, args.seconds, args.client_threads, baseline) for share in shares]
            with multiprocessing.get_context("spawn").Pool(args.client_processes) as pool:
                chunks = pool.map(_client, jobs)
            report[name] = _summary([sample for chunk in chunks for sample in chunk], args.seconds)
        report["heartbeat_to_healthz"] = round(
            report["heartbeat"]["requests_per_s"] / report["healthz"]["requests_per_s"], 2
        )
        report["cpus"] = os.cpu_count()
        print(json.dumps(report))


if __name__ == "__main__":
    main()
