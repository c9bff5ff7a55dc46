"""Publish latency: a first viewer opens a box -> the provider's allow call, with the worker.

    .venv/bin/python bench/publish_latency.py --trials 40

Starts the whole system with bench/system.py (the `local` provider records every call,
with its time, in Redis), puts one streamer live, then repeats: a viewer opens the
box over HTTP and the clock runs until the allow call is recorded; the viewer closes the
box and we wait for the revoke. Prints p50/p95/max of open -> allow.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from system import redis_socket, running_system


def _call(base: str, method: str, path: str, token: str | None = None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {path}: {error.code} {error.read()!r}") from None


def _register(base: str, name: str) -> dict:
    return _call(
        base,
        "POST",
        "/api/v1/auth/register",
        body={"username": name, "email": f"{name}@bench.test", "password": "bench-pass"},
    )


def _wait_for(calls: redis.Redis, action: str, identity: str, after: float) -> float:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for raw in calls.lrange("media:local:calls", 0, 20):
            call = json.loads(raw)
            at = datetime.fromisoformat(call["at"]).timestamp()
            if call["action"] == action and call.get("identity") == identity and at >= after:
                return at
        time.sleep(0.002)
    raise RuntimeError(f"no {action} within 10 s")


def main() -> None:
    """Start, measure, report, stop."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    with running_system("publish-bench-", web_workers=1, ready_timeout=120) as (var_dir, port):
        base = f"http://127.0.0.1:{port}"
        calls = redis.Redis(unix_socket_path=str(redis_socket(var_dir)))
        streamer, viewer = _register(base, "pl_streamer"), _register(base, "pl_viewer")
        _call(base, "POST", "/api/v1/rooms/main/live", streamer["access_token"], {})
        identity = streamer["user"]["id"]
        latencies = []
        for _ in range(args.trials):
            opened = time.time()
            _call(base, "POST", "/api/v1/rooms/main/boxes/1/viewers", viewer["access_token"])
            latencies.append(_wait_for(calls, "allow_publishing", identity, opened) - opened)
            closed = time.time()
            _call(base, "DELETE", "/api/v1/rooms/main/boxes/1/viewers", viewer["access_token"])
            _wait_for(calls, "revoke_publishing", identity, closed)
        ordered = sorted(latencies)
        print(
            json.dumps(
                {
                    "trials": args.trials,
                    "p50_ms": round(statistics.median(ordered) * 1000, 1),
                    "p95_ms": round(statistics.quantiles(ordered, n=20)[18] * 1000, 1),
                    "max_ms": round(ordered[-1] * 1000, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
