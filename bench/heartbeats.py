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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_system(var_dir: Path, port: int, web_workers: int) -> subprocess.Popen:
    """`make run`'s supervisor on a free port; returns once /readyz answers."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "VAR_DIR": str(var_dir),
            "PORT": str(port),
            "WEB_WORKERS": str(web_workers),
            "WEB_THREADS": "16",
            "LOG_LEVEL": "WARNING",
        }
    )
    system = subprocess.Popen(
        [sys.executable, "-m", "mylivelinks.dev", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
                if reply.status == 200:
                    return system
        except OSError:
            time.sleep(0.5)
    system.terminate()
    raise RuntimeError("the system did not become ready")


def seed(var_dir: Path, viewers: int) -> list[str]:
    """12 live streamers in `main` and `viewers` viewers with 3 boxes open; their tokens."""
    from mylivelinks import create_app
    from mylivelinks.config import Config
    from mylivelinks.extensions import db
    from mylivelinks.models import Profile
    from mylivelinks.services import live, watching
    from mylivelinks.services.rooms import get_room
    from mylivelinks.services.tokens import mint_access_token

    app = create_app(
        Config(
            {
                "APP_ENV": "development",
                "SECRET_KEY": (var_dir / "secret_key").read_text().strip(),
                "DATABASE_URL": f"postgresql://postgres@/mylivelinks?host={var_dir / 'pgdata'}",
                "REDIS_URL": f"unix://{var_dir / 'redis' / 'redis.sock'}",
                "LOG_LEVEL": "WARNING",
            }
        )
    )
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

    workers = [threading.Thread(target=run, args=(viewers[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
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
    var_dir = Path(tempfile.mkdtemp(prefix="heartbeat-bench-")) / "var"
    port = _free_port()
    system = start_system(var_dir, port, args.web_workers)
    try:
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
    finally:
        system.send_signal(signal.SIGTERM)
        system.wait(60)


if __name__ == "__main__":
    main()
