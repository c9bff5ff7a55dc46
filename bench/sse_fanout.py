"""Fan-out latency: one room event received by many SSE clients of one node.

    .venv/bin/python bench/sse_fanout.py --start --clients 10000 --events 60 --interval 1
    .venv/bin/python bench/sse_fanout.py --clients 500 --events 20    # a `make run` server

With --start it starts the whole system itself (`python -m mylivelinks.dev run` in a
temporary VAR_DIR, --web-workers gevent workers, SSE_MAX_LISTENERS above --clients so one
worker may hold them all); otherwise it uses the server at --base-url and its Redis at
--redis-url. It raises its own open-file limit to the hard limit (its client processes
inherit it), then:

* memory: the RSS of the gunicorn worker(s) before any listener connects;
* connect: --clients listeners, raw sockets in uvloop reader callbacks (bench/sse_client.py)
  split over --client-processes processes at niceness --client-nice (they stand in for
  other machines, so the server gets the cores first), on
  `GET /api/v1/rooms/{room}/events?access_token=...`; once all are connected and
  --idle-seconds have passed, the RSS again: (after - before) / listeners is the memory per
  idle listener, and the workers' CPU over that idle time;
* events: --events events, one every --interval seconds, published to the room's Redis
  stream the way the app does it (`publish_room_event`), each carrying its publish time; a
  delivery's latency is the kernel's receive time of its bytes at the listener's socket
  minus that (one clock: same machine), and under `read` the time the listener read them;
* meanwhile a separate client process sends `GET /healthz` every --healthz-interval
  seconds, each on a new connection, and records its latency.

Which side limits: each client process reports the CPU it used and how late its event
loop woke (a 50 ms ticker) during the events, and the CPU of each role (web, redis, ...)
is read from /proc; a client process near one core or with a late loop measures itself.
Prints one JSON line; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import socket
import statistics
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import uvloop
from processes import CpuMeter, cpu_seconds_of, gunicorn_workers, open_sockets, rss_bytes
from sse_client import SSEListener, close_all, connect_all
from system import log, redis_socket, running_system

EVENT_TYPE = "bench:ping"
LAG_TICK_SECONDS = 0.05
# How long the clients wait for the last event to reach all of them.
DRAIN_SECONDS = 15


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


def raise_open_files() -> int:
    """This process's soft open-file limit raised to the hard one; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- the listeners, in client processes ----------------------------------------------------


class Client(SSEListener):
    """One SSE connection; records when every bench event arrived and was read."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[int, float] = {}  # seq -> latency to the socket
        self.read: dict[int, float] = {}  # seq -> latency to this process's read

    def handle(self, block: bytes, arrived: float, read: float) -> None:
        if b"event: " + EVENT_TYPE.encode() not in block:
            return  # a keep-alive
        fields = dict(line.partition(b": ")[::2] for line in block.split(b"\n"))
        data = json.loads(fields[b"data"])
        self.arrived[data["seq"]] = arrived - data["sent_at"]
        self.read[data["seq"]] = read - data["sent_at"]


def yield_cpu(nice: int) -> None:
    """Lower this process's claim on the CPU by `nice`, against other sessions' processes too."""
    # Linux shares the CPU between sessions (autogroups) before niceness counts within one,
    # and the server's processes each run in a session of their own: a nice client in the
    # benchmark's session would still take half the cores from the server. So the client
    # takes a session of its own and sets that session's niceness.
    os.setsid()
    # Without autogroups, the process's own niceness is what counts.
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(nice))
    os.nice(nice)


def client_process(base_url: str, path: str, count: int, concurrency: int, nice: int, pipe) -> None:
    """A process holding `count` listeners, at `nice`; talks with the parent over `pipe`."""
    yield_cpu(nice)
    uvloop.run(_client_main(base_url, path, count, concurrency, pipe))


async def _client_main(base_url: str, path: str, count: int, concurrency: int, pipe) -> None:
    loop = asyncio.get_running_loop()
    clients = [Client() for _ in range(count)]
    try:
        tasks, connect_seconds = await connect_all(clients, base_url, path, concurrency)
    except TimeoutError:
        tasks, connect_seconds = [], float("nan")
    connected = [client for client in clients if client.connected]
    errors = [client.error for client in clients if client.error]
    pipe.send(
        {
            "connected": len(connected),
            "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "connect_seconds": connect_seconds,
        }
    )
    await loop.run_in_executor(None, pipe.recv)  # the events begin

    lags: list[float] = []

    async def ticker() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(LAG_TICK_SECONDS)
            lags.append(time.monotonic() - before - LAG_TICK_SECONDS)

    cpu_before, started = time.process_time(), time.monotonic()
    ticking = asyncio.create_task(ticker())
    events = await loop.run_in_executor(None, pipe.recv)  # the last one is published
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        if all(len(client.read) == events for client in connected):
            break
        await asyncio.sleep(0.05)
    cpu, wall = time.process_time() - cpu_before, time.monotonic() - started
    ticking.cancel()
    arrived: dict[int, list[float]] = {}
    read: dict[int, list[float]] = {}
    for client in connected:
        for seq, latency in client.arrived.items():
            arrived.setdefault(seq, []).append(latency)
        for seq, latency in client.read.items():
            read.setdefault(seq, []).append(latency)
    dropped = [client.error for client in connected if client.error]
    pipe.send(
        {
            "arrived": arrived,
            "read": read,
            "dropped": len(dropped),
            "first_drop": dropped[0] if dropped else None,
            "cpu_seconds": cpu,
            "wall_seconds": wall,
            "lags": lags,
        }
    )
    await close_all(tasks)


# --- /healthz from a separate client -------------------------------------------------------


def _healthz_once(port: int) -> tuple[float, int]:
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        status = int(reply.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        status = 0
    return time.perf_counter() - started, status


def healthz_process(port: int, interval: float, limit_seconds: float, pipe) -> None:
    """`GET /healthz` on a new connection every `interval` s until told to stop (or for
    `limit_seconds`); sends back (latency, status) of each."""
    samples = []
    stop_at = time.monotonic() + limit_seconds
    next_at = time.monotonic()
    while time.monotonic() < stop_at and not pipe.poll(max(0.0, next_at - time.monotonic())):
        samples.append(_healthz_once(port))
        next_at += interval
    pipe.send(samples)


# --- the run -------------------------------------------------------------------------------


def _ms(values: list[float], fraction: float) -> float | None:
    return round(percentile(values, fraction) * 1000, 1) if values else None


def _latencies(results: list[dict], which: str) -> list[float]:
    """Every delivery's latency of kind `which` (arrived, read) over the client processes."""
    return sorted(x for r in results for values in r[which].values() for x in values)


def bench(args: argparse.Namespace, token: str, workers: list[int]) -> dict:
    """Connect the clients, publish the events, gather the latencies."""
    from flask import Flask
    from redis import Redis

    from mylivelinks.events.streams import publish_room_event

    query = urllib.parse.urlencode({"access_token": token})
    path = f"/api/v1/rooms/{args.room}/events?{query}"
    port = urllib.parse.urlsplit(args.base_url).port or 80
    publisher = Flask("sse_fanout")
    publisher.extensions["redis"] = Redis.from_url(args.redis_url)
    context = multiprocessing.get_context("spawn")

    for _ in range(5):
        _healthz_once(port)
    rss_before = rss_bytes(workers) if workers else None
    log(f"connecting {args.clients} listeners from {args.client_processes} processes")
    shares = [
        len(range(i, args.clients, args.client_processes)) for i in range(args.client_processes)
    ]
    pipes, processes = [], []
    concurrency = max(1, args.connect_concurrency // args.client_processes)
    for share in shares:
        ours, theirs = context.Pipe()
        process = context.Process(
            target=client_process,
            args=(args.base_url, path, share, concurrency, args.client_nice, theirs),
        )
        process.start()
        pipes.append(ours)
        processes.append(process)
    try:
        connects = [pipe.recv() for pipe in pipes]
        connected = sum(c["connected"] for c in connects)
        log(f"{connected} connected; idle {args.idle_seconds} s")
        time.sleep(1)  # the last connections' own work done
        idle_cpu_before, idle_from = cpu_seconds_of(workers), time.monotonic()
        time.sleep(max(0.0, args.idle_seconds - 1))
        idle_cpu = cpu_seconds_of(workers) - idle_cpu_before
        idle_wall = time.monotonic() - idle_from
        rss_idle = rss_bytes(workers) if workers else None
        sockets = [open_sockets(pid) for pid in workers]

        run_seconds = args.events * args.interval + DRAIN_SECONDS + 30
        ours, theirs = context.Pipe()
        prober = context.Process(
            target=healthz_process, args=(port, args.healthz_interval, run_seconds, theirs)
        )
        prober.start()
        log(f"{args.events} events, one every {args.interval} s")
        worker_cpu_before = cpu_seconds_of(workers)
        with CpuMeter() as cpu:
            for pipe in pipes:
                pipe.send("go")
            first = time.monotonic() + args.interval
            for seq in range(args.events):
                time.sleep(max(0.0, first + seq * args.interval - time.monotonic()))
                with publisher.app_context():
                    publish_room_event(args.room, EVENT_TYPE, {"seq": seq, "sent_at": time.time()})
            for pipe in pipes:
                pipe.send(args.events)
            results = [pipe.recv() for pipe in pipes]
        worker_cpu = cpu_seconds_of(workers) - worker_cpu_before
        ours.send("stop")
        healthz = ours.recv()
        prober.join(10)
        rss_after = rss_bytes(workers) if workers else None
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.terminate()

    latencies = _latencies(results, "arrived")
    read_latencies = _latencies(results, "read")
    slowest = []
    for seq in range(args.events):
        values = [x for r in results for x in r["arrived"].get(seq, [])]
        if values:
            slowest.append(max(values))
    health = sorted(latency for latency, _ in healthz)
    lags = sorted(x for r in results for x in r["lags"])
    rss_delta = rss_idle - rss_before if workers else None
    return {
        "clients": args.clients,
        "client_processes": args.client_processes,
        "connected": connected,
        "connect_errors": sum(c["errors"] for c in connects),
        "first_error": next((c["first_error"] for c in connects if c["first_error"]), None),
        "connect_seconds": round(max(c["connect_seconds"] for c in connects), 1),
        "dropped": sum(r["dropped"] for r in results),
        "first_drop": next((r["first_drop"] for r in results if r["first_drop"]), None),
        "events": args.events,
        "interval_s": args.interval,
        "deliveries": len(latencies),
        "expected_deliveries": connected * args.events,
        "p50_ms": _ms(latencies, 0.50),
        "p95_ms": _ms(latencies, 0.95),
        "p99_ms": _ms(latencies, 0.99),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "last_client_median_ms": round(statistics.median(slowest) * 1000, 1) if slowest else None,
        "last_client_ms": [round(x * 1000) for x in slowest],
        # The same deliveries as the clients read them: plus the clients' own CPU queue.
        "read": {
            "p50_ms": _ms(read_latencies, 0.50),
            "p95_ms": _ms(read_latencies, 0.95),
            "p99_ms": _ms(read_latencies, 0.99),
        },
        "client_nice": args.client_nice,
        "healthz": {
            "requests": len(healthz),
            "errors": sum(1 for _, status in healthz if status != 200),
            "p50_ms": _ms(health, 0.50),
            "p99_ms": _ms(health, 0.99),
            "max_ms": round(health[-1] * 1000, 1) if health else None,
        },
        "web_workers": len(workers) if workers else None,
        "worker_sockets_idle": sockets if workers else None,
        "rss_before_mb": round(rss_before / 2**20, 1) if workers else None,
        "rss_idle_mb": round(rss_idle / 2**20, 1) if workers else None,
        # What idle listeners cost: the workers' CPU while no event is sent.
        "worker_cpu_idle_ms_per_s": round(idle_cpu / idle_wall * 1000, 1)
        if workers and idle_wall > 0
        else None,
        "rss_after_events_mb": round(rss_after / 2**20, 1) if workers else None,
        "kb_per_idle_listener": round(rss_delta / connected / 1024, 1)
        if workers and connected
        else None,
        # Which side limits: CPU per role over the events, and the clients' own view.
        "cpu_seconds": {role: round(seconds, 1) for role, seconds in cpu.used.items()},
        # The workers' own CPU per delivery: unlike latency, it holds on a busy machine.
        "worker_cpu_us_per_delivery": round(worker_cpu / len(latencies) * 1e6, 1)
        if workers and latencies
        else None,
        "events_wall_seconds": round(max(r["wall_seconds"] for r in results), 1),
        "client_cpu_share": [round(r["cpu_seconds"] / r["wall_seconds"], 2) for r in results],
        "client_loop_lag_p99_ms": _ms(lags, 0.99),
        "client_loop_lag_max_ms": round(lags[-1] * 1000, 1) if lags else None,
        "cpus": os.cpu_count(),
    }


def default_redis_url() -> str:
    """REDIS_URL, else the socket of the embedded Redis that `make run` starts."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    var = Path(os.environ.get("VAR_DIR") or Path(__file__).parent.parent / "var").resolve()
    return f"unix://{var / 'redis' / 'redis.sock'}"


def main() -> None:
    """Parse the options, start the system if asked, get a token, run, print the summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--start", action="store_true", help="start the system in a temp dir")
    parser.add_argument("--web-workers", type=int, default=1, help="with --start")
    parser.add_argument("--base-url", default=os.environ.get("BASE_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--redis-url", default=default_redis_url(), help="the server's Redis")
    parser.add_argument("--room", default="main")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between events")
    parser.add_argument(
        "--client-nice",
        type=int,
        default=10,
        help="the client processes' niceness: they stand in for other machines",
    )
    parser.add_argument("--connect-concurrency", type=int, default=200, help="in all")
    parser.add_argument("--idle-seconds", type=float, default=5, help="before the idle RSS")
    parser.add_argument("--healthz-interval", type=float, default=0.05)
    parser.add_argument("--token", help="an access token (default: register a new account)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR")
    args = parser.parse_args()
    open_files = raise_open_files()
    if open_files < args.clients + 256:
        raise SystemExit(f"open files limited to {open_files}: too few for the clients")

    if not args.start:
        token = args.token or register(args.base_url)
        report = bench(args, token, gunicorn_workers(None))
        print(json.dumps(report), flush=True)
        return
    with running_system(
        "sse-fanout-",
        keep=args.keep,
        web_workers=args.web_workers,
        # Connections need not split evenly between workers: each may take every client.
        listeners=args.clients + 100,
        ready_timeout=120,
    ) as (var_dir, port):
        args.base_url = f"http://127.0.0.1:{port}"
        args.redis_url = f"unix://{redis_socket(var_dir)}"
        token = args.token or register(args.base_url)
        report = bench(args, token, gunicorn_workers(os.getpid()))
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
