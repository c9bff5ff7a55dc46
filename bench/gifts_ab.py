"""HTTP gifts per second of two checkouts of the API, in alternating phases on one system.

    git worktree add --detach /tmp/base HEAD~1
    .venv/bin/python bench/gifts_ab.py /tmp/base                     # A: /tmp/base, B: here
    .venv/bin/python bench/gifts_ab.py . --b-gunicorn-args="--workers 3"  # a setting alone

A whole run of gifts.py moves by more than a few percent from one run to the next on a
small shared machine, so it cannot tell whether a change gains 3 %. This compares two
versions side by side instead: it starts the system from this checkout as gifts.py does
(embedded PostgreSQL and Redis, GIFT_RATE_LIMIT raised) and seeds it the same way, then
starts two more gunicorns on the same database and Redis with the system's settings, A in
the directory given and B in this checkout's (or --b-dir); each imports the `mylivelinks`
package of its own directory, so the database schema must be the same for both. HTTP phases
of --seconds then alternate A B B A A B ... for --pairs pairs, with the clients of gifts.py;
each pair's B/A ratio cancels most of the machine's drift. Progress goes to stderr; stdout
gets one JSON line: the rates, the B/A ratio of each pair and their median, and the CPU per
gift of each role (medians).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from gifts import http_phase, seed
from system import (
    HIGH_RATE_LIMIT,
    LONG_SECONDS,
    ROOT,
    database_url,
    free_port,
    log,
    redis_socket,
    running_system,
)

from mylivelinks.dev import gunicorn_arguments

SETTINGS = {"GIFT_RATE_LIMIT": HIGH_RATE_LIMIT, "STREAMER_TIMEOUT_SECONDS": LONG_SECONDS}


def start_api(directory: Path, var_dir: Path, args: argparse.Namespace, extra: str):
    """A gunicorn serving the checkout in `directory` on the system's stores; (process, port)."""
    port = free_port()
    metrics = Path(tempfile.mkdtemp(prefix="metrics-", dir=var_dir))
    env = {
        **os.environ,
        **SETTINGS,
        "APP_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": (var_dir / "secret_key").read_text().strip(),
        "DATABASE_URL": database_url(var_dir),
        "REDIS_URL": f"unix://{redis_socket(var_dir)}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "SSE_MAX_LISTENERS": str(args.listeners),
    }
    command = gunicorn_arguments("127.0.0.1", port, args.web_workers, args.listeners)
    process = subprocess.Popen(
        [*command, *shlex.split(extra)],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn in {directory} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return process, port
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"gunicorn in {directory} did not become ready")


def compare(pool, seeded: dict, args: argparse.Namespace, ports: dict, url: str) -> dict:
    """Alternating phases on A and B; the report."""
    phases: dict[str, list[dict]] = {"A": [], "B": []}

    def phase(label: str, seconds: float) -> dict:
        clients = argparse.Namespace(
            clients=args.clients, client_processes=args.client_processes, port=ports[label]
        )
        return http_phase(pool, seeded, clients, seconds, url)

    for label in ("A", "B"):
        phase(label, args.warmup)
    for index in range(args.pairs):
        for label in ("A", "B") if index % 2 == 0 else ("B", "A"):
            result = phase(label, args.seconds)
            phases[label].append(result)
            log(f"pair {index + 1} {label}: {result['gifts_per_s']:.0f} gifts/s")
    rates = {label: [r["gifts_per_s"] for r in results] for label, results in phases.items()}
    ratios = [b / a for a, b in zip(rates["A"], rates["B"], strict=True)]
    roles = sorted({role for r in phases["A"] + phases["B"] for role in r["cpu_ms_per_gift"]})
    return {
        "a_per_s": [round(rate) for rate in rates["A"]],
        "b_per_s": [round(rate) for rate in rates["B"]],
        "b_to_a": [round(ratio, 3) for ratio in ratios],
        "b_to_a_median": round(statistics.median(ratios), 3),
        "cpu_ms_per_gift": {
            label: {
                role: round(
                    statistics.median(r["cpu_ms_per_gift"].get(role, 0) for r in results), 3
                )
                for role in roles
            }
            for label, results in phases.items()
        },
        "errors": [r["errors"] for r in phases["A"] + phases["B"] if r["errors"]],
    }


def main() -> None:
    """Start, seed, start A and B, alternate, report, stop."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("a_dir", type=Path, help="the checkout served as A")
    parser.add_argument("--b-dir", type=Path, default=ROOT, help="served as B (this checkout)")
    parser.add_argument("--a-gunicorn-args", default="", help="more gunicorn options for A")
    parser.add_argument("--b-gunicorn-args", default="", help="more gunicorn options for B")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=8, help="per phase")
    parser.add_argument("--warmup", type=float, default=2, help="seconds, each side")
    parser.add_argument("--senders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP connections")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--listeners",
        type=int,
        default=10000,
        help="SSE_MAX_LISTENERS, which sizes each gevent worker's connections",
    )
    args = parser.parse_args()

    with running_system(
        "gifts-ab-", web_workers=args.web_workers, listeners=args.listeners, extra=SETTINGS
    ) as (var_dir, _):
        log(f"seeding {args.senders} senders")
        seeded = seed(var_dir, args.senders)
        apis = {
            "A": start_api(args.a_dir.resolve(), var_dir, args, args.a_gunicorn_args),
            "B": start_api(args.b_dir.resolve(), var_dir, args, args.b_gunicorn_args),
        }
        try:
            ports = {label: port for label, (_, port) in apis.items()}
            with multiprocessing.get_context("spawn").Pool(args.client_processes) as pool:
                report = compare(pool, seeded, args, ports, database_url(var_dir))
        finally:
            for process, _ in apis.values():
                process.terminate()
                process.wait()
        report.update(
            a_dir=str(args.a_dir.resolve()),
            b_dir=str(args.b_dir.resolve()),
            a_gunicorn_args=args.a_gunicorn_args,
            b_gunicorn_args=args.b_gunicorn_args,
            seconds=args.seconds,
            cpus=os.cpu_count(),
        )
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
