"""Latency and throughput of the account, profile and follow endpoints against a running server.

Start the system with `make run` (or point BASE_URL elsewhere), then:
    .venv/bin/python bench/api_latency.py --users 50 --requests 400 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def call(base: str, method: str, path: str, body=None, token=None) -> int:
    """One HTTP request; returns the status code."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def measure(name: str, requests: int, concurrency: int, one: Callable[[int], int]) -> dict:
    """Run `one(i)` `requests` times on `concurrency` threads; summarise latencies."""
    latencies: list[float] = []

    def timed(index: int) -> int:
        started = time.perf_counter()
        status = one(index)
        latencies.append(time.perf_counter() - started)
        return status

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        statuses = list(pool.map(timed, range(requests)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "endpoint": name,
        "requests": requests,
        "concurrency": concurrency,
        "errors": sum(1 for status in statuses if status >= 400),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
        "throughput_rps": round(requests / elapsed, 1),
    }


def main() -> None:
    """Register users, then measure reads, logins and follows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("BASE_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    base, run = args.base_url, uuid.uuid4().hex[:6]
    api = base + "/api/v1"
    names = [f"b{run}_{i}" for i in range(args.users)]
    tokens: dict[str, str] = {}

    def register(index: int) -> int:
        name = names[index]
        body = {"username": name, "email": f"{name}@bench.test", "password": "bench-password"}
        request = urllib.request.Request(
            api + "/auth/register",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            tokens[name] = json.loads(response.read())["access_token"]
            return response.status

    results = [measure("POST /auth/register", args.users, args.concurrency, register)]
    star = names[0]
    results.append(
        measure(
            "GET /profiles/{username}",
            args.requests,
            args.concurrency,
            lambda i: call(api, "GET", f"/profiles/{names[i % len(names)]}"),
        )
    )
    results.append(
        measure(
            "GET /me",
            args.requests,
            args.concurrency,
            lambda i: call(api, "GET", "/me", token=tokens[names[i % len(names)]]),
        )
    )
    results.append(
        measure(
            "POST /profiles/{star}/follow",
            args.requests,
            args.concurrency,
            lambda i: call(
                api,
                "POST",
                f"/profiles/{star}/follow",
                token=tokens[names[1 + i % (len(names) - 1)]],
            ),
        )
    )
    results.append(
        measure(
            "GET /profiles/{star}/followers",
            args.requests,
            args.concurrency,
            lambda i: call(api, "GET", f"/profiles/{star}/followers?limit=20"),
        )
    )
    results.append(
        measure(
            "POST /auth/login",
            min(args.requests, 100),
            args.concurrency,
            lambda i: call(
                api,
                "POST",
                "/auth/login",
                {"login": names[i % len(names)], "password": "bench-password"},
            ),
        )
    )
    for row in results:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
