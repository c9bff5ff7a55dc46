"""Batched heartbeats per second over HTTP: 2,000 viewers each holding 3 boxes; then the
same viewers kept present by their room event streams alone.

    .venv/bin/python bench/heartbeats.py --seconds 20 --web-workers 2

Starts the whole system with `python -m mylivelinks.dev run` (embedded PostgreSQL and
Redis in a temporary VAR_DIR, gunicorn's gevent workers, STREAMER_TIMEOUT_SECONDS raised so
the sweep leaves the unheartbeating streamers live), seeds 12 live streamers and the viewers
straight into the database, then client processes send `POST /api/v1/rooms/main/heartbeat`
with three positions each, over keep-alive connections, for --seconds; then the same
clients load `GET /healthz` for as long, the ceiling of the web stack and these clients on
the machine. The clients share the machine's cores.

Then, unless --stream-seconds is 0, the streams phase: every viewer heartbeats once, then
all but the last --control viewers open `GET /api/v1/rooms/main/events` (one stream each,
asyncio raw sockets in a process of their own) and nobody heartbeats any more. For
--stream-seconds (past VIEWER_TIMEOUT_SECONDS and a sweep) it samples every 5 s the viewer
counts of `GET /api/v1/rooms/main` and the `box_viewers` rows of both groups: the viewers
with a stream should all stay, the control group be swept. It reports the heartbeat
requests per second the streams save (a viewer heartbeats every 10-15 s) and the Redis
scripts run instead (INFO commandstats over the phase).

Prints one JSON line: requests/s, p50/p95/p99 latency and errors of both loads, their
ratio, and the streams phase.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import statistics
import time
import urllib.parse
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sse_client import SSEListener, close_all
from system import (
    LONG_LIVED,
    LONG_SECONDS,
    KeepAliveClient,
    database_url,
    log,
    redis_socket,
    run_threads,
    running_system,
    seeding_app,
)

ROOM = "main"
# A viewer without a stream heartbeats every 10-15 s (README, Rooms).
HEARTBEAT_SECONDS = (10, 15)
SAMPLE_SECONDS = 5


def seed(var_dir: Path, viewers: int) -> list[str]:
    """12 live streamers in `main` and `viewers` viewers with 3 boxes open; their tokens."""
    from mylivelinks.extensions import db
    from mylivelinks.models import Profile
    from mylivelinks.services.accounts.tokens import mint_access_token
    from mylivelinks.services.rooms import live, presence, watching
    from mylivelinks.services.rooms.state import get_room

    app = seeding_app(var_dir, **LONG_LIVED)
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
        # Seeding takes a while: present as of now, or the first sweep after the commit
        # removes whoever the load has not reached yet (their presence dates from `now`).
        presence.refresh_listening([(p.id, "main") for p in people], datetime.now(UTC))
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


class _Quiet(SSEListener):
    """A room stream held open; its events are not looked at."""

    def handle(self, block: bytes, arrived: float, read: float) -> None:
        pass


def stream_process(port: int, tokens: list[str], pipe) -> None:
    """One room event stream per token, held until the parent says stop."""
    asyncio.run(_hold_streams(port, tokens, pipe))


async def _hold_streams(port: int, tokens: list[str], pipe) -> None:
    url = urllib.parse.urlsplit(f"http://127.0.0.1:{port}")
    connect = asyncio.Semaphore(50)
    listeners = [_Quiet() for _ in tokens]
    tasks = [
        asyncio.create_task(
            one.run(url, f"/api/v1/rooms/{ROOM}/events?access_token={token}", connect)
        )
        for one, token in zip(listeners, tokens, strict=True)
    ]
    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one.ready.wait() for one in listeners)), 120)
    errors = [one.error for one in listeners if one.error]
    pipe.send(
        {
            "connected": sum(one.connected for one in listeners),
            "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "connect_seconds": round(time.perf_counter() - started, 1),
        }
    )
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    pipe.send(sum(1 for one in listeners if one.connected and one.error))
    await close_all(tasks)


def heartbeat_once(port: int, viewers: list[str]) -> int:
    """One heartbeat from each viewer (16 connections); the ones not answered 200."""
    failed = []

    def run(mine: list[str]) -> None:
        client = KeepAliveClient(port)
        for viewer in map(json.loads, mine):
            status = client.post(
                f"/api/v1/rooms/{ROOM}/heartbeat",
                json.dumps({"positions": viewer["positions"]}),
                {"Authorization": f"Bearer {viewer['token']}", "Content-Type": "application/json"},
            )
            if status != 200:
                failed.append(status)
        client.close()

    run_threads(run, [viewers[i::16] for i in range(16)])
    return len(failed)


def _room_viewers(port: int) -> int:
    """The viewer counts of the room's boxes, summed (`GET /api/v1/rooms/main`)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", f"/api/v1/rooms/{ROOM}")
        room = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    return sum(box["viewer_count"] or 0 for box in room["boxes"])


def _rows(var_dir: Path, first_control: int) -> tuple[int, int]:
    """`box_viewers` rows of the viewers with a stream and of the control group."""
    import psycopg

    with psycopg.connect(database_url(var_dir)) as connection:
        rows = connection.execute(
            "SELECT substring(p.username from 11)::int >= %s, count(*) FROM box_viewers b"
            " JOIN profiles p ON p.id = b.viewer_id WHERE p.username LIKE 'hb\\_viewer\\_%%'"
            " GROUP BY 1",
            (first_control,),
        ).fetchall()
    counts = dict(rows)
    return counts.get(False, 0), counts.get(True, 0)


class RefreshLog:
    """The streams' presence scripts Redis runs during a `with` block, from its slow log
    (every command logged meanwhile, then the settings put back): calls and their times."""

    def __init__(self, redis) -> None:
        from mylivelinks.services.rooms.presence import _REFRESH_LISTENING

        self.redis = redis
        self.sha = hashlib.sha1(_REFRESH_LISTENING.encode()).hexdigest().encode()

    def __enter__(self) -> RefreshLog:
        self.saved = self.redis.config_get("slowlog-*")
        self.redis.config_set("slowlog-log-slower-than", 0)
        self.redis.config_set("slowlog-max-len", 1_000_000)
        self.redis.slowlog_reset()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        entries = self.redis.slowlog_get(1_000_000)
        self.seconds = time.monotonic() - self.started
        for name, value in self.saved.items():
            self.redis.config_set(name, value)
        self.micros = [
            entry["duration"]
            for entry in entries
            if entry["command"].split(b" ")[:2] == [b"EVALSHA", self.sha]
        ]


def streams_phase(args: argparse.Namespace, var_dir: Path, port: int, viewers: list[str]) -> dict:
    """The viewers kept present by their room streams, no heartbeats; a control group
    without streams is swept."""
    from redis import Redis

    redis = Redis(unix_socket_path=str(redis_socket(var_dir)))
    first_control = len(viewers) - args.control
    streaming = viewers[:first_control]
    tokens = [json.loads(viewer)["token"] for viewer in streaming]
    failed = heartbeat_once(port, viewers)
    refreshed_at = time.monotonic()
    log(f"all {len(viewers)} viewers heartbeated once; opening {len(tokens)} room streams")
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    holder = context.Process(target=stream_process, args=(port, tokens, theirs))
    holder.start()
    try:
        connected = ours.recv()
        log(f"{connected['connected']} streams open; no heartbeats for {args.stream_seconds} s")
        with RefreshLog(redis) as refreshes:
            samples = _sample(args, var_dir, port, first_control, refreshed_at)
        window = time.monotonic() - refreshed_at
        ours.send("stop")
        dropped = ours.recv()
    finally:
        holder.join(30)
        if holder.is_alive():
            holder.terminate()
    final = samples[-1]
    return {
        "viewers_streaming": len(streaming),
        "viewers_control": args.control,
        "heartbeat_errors_before": failed,
        "streams": connected,
        "streams_dropped": dropped,
        "seconds_without_heartbeats": round(window),
        "samples": samples,
        "kept_present": final["rows_streaming"] == 3 * len(streaming)
        and final["room_viewer_count"] == 3 * len(streaming),
        "control_swept": final["rows_control"] == 0,
        # What the streams stand in for: one heartbeat per viewer every 10-15 s.
        "heartbeats_saved_per_s": [round(len(streaming) / s, 1) for s in HEARTBEAT_SECONDS[::-1]],
        # What they cost instead: the presence script of each web worker, per interval.
        "refresh_scripts": {
            "calls": len(refreshes.micros),
            "seconds_logged": round(refreshes.seconds),
            "per_s": round(len(refreshes.micros) / refreshes.seconds, 2),
            "median_ms": round(statistics.median(refreshes.micros) / 1000, 2)
            if refreshes.micros
            else None,
            "max_ms": round(max(refreshes.micros) / 1000, 2) if refreshes.micros else None,
        },
    }


def _sample(
    args: argparse.Namespace, var_dir: Path, port: int, first_control: int, since: float
) -> list[dict]:
    """Every 5 s until --stream-seconds after `since`: the room's viewer count and the rows of
    both groups."""
    samples = []
    while (elapsed := time.monotonic() - since) < args.stream_seconds:
        rows_streaming, rows_control = _rows(var_dir, first_control)
        samples.append(
            {
                "s": round(elapsed),
                "room_viewer_count": _room_viewers(port),
                "rows_streaming": rows_streaming,
                "rows_control": rows_control,
            }
        )
        time.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - since - elapsed)))
    return samples


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
    parser.add_argument("--stream-seconds", type=float, default=60, help="0: no streams phase")
    parser.add_argument("--control", type=int, default=200, help="viewers without a stream")
    args = parser.parse_args()
    with running_system(
        "heartbeat-bench-",
        web_workers=args.web_workers,
        ready_timeout=120,
        extra={"STREAMER_TIMEOUT_SECONDS": LONG_SECONDS},
    ) as (var_dir, port):
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
        if args.stream_seconds:
            report["streams"] = streams_phase(args, var_dir, port, viewers)
        report["cpus"] = os.cpu_count()
        print(json.dumps(report))


if __name__ == "__main__":
    main()
