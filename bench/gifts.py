"""Gifts per second over HTTP, against the same gift done in PostgreSQL alone, at 0 and N entries.

    .venv/bin/python bench/gifts.py                              # 0 and 5 M ledger entries
    .venv/bin/python bench/gifts.py --seconds 5 --entries 200000 # a quick look

Starts the whole system with `python -m mylivelinks.dev run` (embedded PostgreSQL and
Redis in a temporary VAR_DIR, GIFT_RATE_LIMIT raised to `1000000 per second`,
STREAMER_TIMEOUT_SECONDS to a day so the sweep leaves the streamers live), seeds 12 live
streamers in boxes 1-12 of room `main` and 1,000 senders funded through `credit_coins`
straight into the database, then at each ledger size (empty, then --entries):

* HTTP: --clients keep-alive connections (over --client-processes processes) send
  `POST /api/v1/gifts` (a Rose, quantity 1, 2, 3 or 5, to a random box) for --seconds;
* floor: the same gift as one plpgsql function (`bench_gift_floor`, created by this script
  in its own database only): the same lookup of the sender, the gift type and the box's live
  stream and streamer, the `ledger_transfer` call with the same postings, the gift row, the
  profile and stream counters, the chat's gift line and the sender's wallet, called from
  --floor-connections psycopg connections (autocommit: one round trip per gift) for --seconds.

The two alternate for --rounds rounds; between the sizes the ledger is bulk-filled the way
bench/ledger.py does it (balanced two-entry transactions, cached balances kept equal to
their entries), then vacuumed and analysed. While each phase runs, pg_stat_activity is
sampled to show how many backends were busy and how many waited on a lock. The run ends
with a full reconciliation. Progress goes to stderr; stdout gets one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from gifts_database import (
    QUANTITIES,
    ActivitySampler,
    check_consistent,
    count_entries,
    fill_history,
    floor_phase,
    install_floor,
)
from processes import CpuMeter
from system import (
    HIGH_RATE_LIMIT,
    LONG_LIVED,
    LONG_SECONDS,
    KeepAliveClient,
    database_url,
    log,
    run_threads,
    running_system,
    seeding_app,
)

STREAMERS = 12
FUNDING_COINS = 1_000_000


def seed(var_dir: Path, senders: int) -> dict:
    """12 live streamers in `main` and funded senders; what the clients need to send gifts."""
    from sqlalchemy import select

    from mylivelinks.extensions import db
    from mylivelinks.ledger.accounts import open_user_accounts, user_accounts
    from mylivelinks.ledger.booking import TransferKind
    from mylivelinks.ledger.wallet import credit_coins
    from mylivelinks.models import GiftType, Profile
    from mylivelinks.models.ledger import AccountKind
    from mylivelinks.services.accounts.tokens import mint_access_token
    from mylivelinks.services.rooms import live
    from mylivelinks.services.rooms.state import get_room

    app = seeding_app(var_dir, **LONG_LIVED)
    now = datetime.now(UTC)
    with app.app_context():
        streamers = []
        for index in range(STREAMERS):
            streamer = Profile(username=f"gift_streamer_{index}", email=f"gs{index}@bench.test")
            db.session.add(streamer)
            db.session.flush()
            live.go_live(
                get_room("main", lock=True), streamer, title=None, position=index + 1, now=now
            )
            open_user_accounts(streamer.id)
            streamers.append(streamer)
        people = [
            Profile(id=uuid.uuid4(), username=f"gift_sender_{i}", email=f"gsend{i}@bench.test")
            for i in range(senders)
        ]
        db.session.add_all(people)
        db.session.flush()
        # Everyone holds coins: the history fill debits every user's coin account a little.
        for person in [*people, *streamers]:
            credit_coins(
                person.id,
                FUNDING_COINS,
                source_kind=AccountKind.ADJUSTMENTS,
                kind=TransferKind.ADJUSTMENT,
                source_ref=str(person.id),
            )
        db.session.commit()
        rose = db.session.scalar(select(GiftType).where(GiftType.name == "Rose"))
        return {
            "rose_id": str(rose.id),
            "streamer_percent": app.config["GIFT_STREAMER_SHARE_PERCENT"],
            "tokens": [mint_access_token(person)[0] for person in people],
            "senders": [
                {
                    "id": str(person.id),
                    "coins": str(user_accounts(person.id).coins),
                    "earnings": str(user_accounts(person.id).earnings),
                    "debt": str(user_accounts(person.id).debt),
                }
                for person in people
            ],
            "boxes": [{"position": index + 1} for index in range(len(streamers))],
        }


def _http_client(args: tuple) -> list[tuple[float, int]]:
    """One client process: `threads` keep-alive connections sending gifts in the window."""
    port, tokens, rose_id, positions, start_at, stop_at, threads, seed_value = args
    results: list[tuple[float, int]] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        rng = random.Random(seed_value * 1000 + index)
        connection = KeepAliveClient(port)
        local = []
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < stop_at:
            body = json.dumps(
                {
                    "gift_type_id": rose_id,
                    "quantity": rng.choice(QUANTITIES),
                    "room": "main",
                    "position": rng.choice(positions),
                }
            )
            headers = {
                "Authorization": f"Bearer {rng.choice(tokens)}",
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            status = connection.post("/api/v1/gifts", body, headers)
            if time.time() <= stop_at:  # only requests completed within the window
                local.append((time.perf_counter() - started, status))
        connection.close()
        with lock:
            results.extend(local)

    run_threads(run, range(threads))
    return results


def http_phase(pool, seeded: dict, args: argparse.Namespace, seconds: float, url: str) -> dict:
    """Gifts over HTTP for `seconds`; rate, latency, errors, database activity."""
    processes = args.client_processes
    per_process = [
        args.clients // processes + (i < args.clients % processes) for i in range(processes)
    ]
    start_at = time.time() + 0.5
    stop_at = start_at + seconds
    positions = [box["position"] for box in seeded["boxes"]]
    jobs = [
        (
            args.port,
            seeded["tokens"][i::processes],
            seeded["rose_id"],
            positions,
            start_at,
            stop_at,
            per_process[i],
            random.randrange(1 << 30),
        )
        for i in range(processes)
    ]
    with ActivitySampler(url) as sampler, CpuMeter() as cpu:
        chunks = pool.map(_http_client, jobs, chunksize=1)
    samples = [sample for chunk in chunks for sample in chunk]
    ok = sorted(latency for latency, status in samples if status == 201)
    errors: dict[str, int] = {}
    for _, status in samples:
        if status != 201:
            errors[str(status)] = errors.get(str(status), 0) + 1
    quantile = statistics.quantiles(ok, n=100) if len(ok) > 1 else None
    return {
        "gifts_per_s": len(ok) / seconds,
        "p50_ms": round(quantile[49] * 1000, 1) if quantile else None,
        "p99_ms": round(quantile[98] * 1000, 1) if quantile else None,
        "errors": errors,
        "cpu_ms_per_gift": cpu.per_item_ms(len(ok)),
        **sampler.summary(),
    }


def measure_size(pool, seeded, args, url) -> dict:
    """--rounds rounds of HTTP then floor at the ledger's current size."""
    entries = count_entries(url)
    log(f"size {entries:,} entries: warm-up")
    http_phase(pool, seeded, args, args.warmup, url)
    floor_phase(seeded, args, args.warmup, url)
    http_rounds, floor_rounds = [], []
    for round_index in range(args.rounds):
        http_rounds.append(http_phase(pool, seeded, args, args.seconds, url))
        floor_rounds.append(floor_phase(seeded, args, args.seconds, url))
        log(
            f"size {entries:,} round {round_index + 1}: "
            f"http {http_rounds[-1]['gifts_per_s']:.0f}/s, "
            f"floor {floor_rounds[-1]['gifts_per_s']:.0f}/s"
        )
    http_median = statistics.median(r["gifts_per_s"] for r in http_rounds)
    floor_median = statistics.median(r["gifts_per_s"] for r in floor_rounds)
    return {
        "entries_at_start": entries,
        "http_per_s": [round(r["gifts_per_s"]) for r in http_rounds],
        "http_median_per_s": round(http_median),
        "http_p50_ms": [r["p50_ms"] for r in http_rounds],
        "http_p99_ms": [r["p99_ms"] for r in http_rounds],
        "http_errors": [r["errors"] for r in http_rounds if r["errors"]],
        "http_pg_active_avg": [r.get("pg_active_avg") for r in http_rounds],
        "http_pg_lock_wait_avg": [r.get("pg_lock_wait_avg") for r in http_rounds],
        "http_pg_idle_in_tx_avg": [r.get("pg_idle_in_tx_avg") for r in http_rounds],
        "http_cpu_ms_per_gift": http_rounds[len(http_rounds) // 2]["cpu_ms_per_gift"],
        "floor_per_s": [round(r["gifts_per_s"]) for r in floor_rounds],
        "floor_median_per_s": round(floor_median),
        "floor_errors": [r["errors"] for r in floor_rounds if r["errors"]],
        "floor_pg_active_avg": [r.get("pg_active_avg") for r in floor_rounds],
        "floor_pg_lock_wait_avg": [r.get("pg_lock_wait_avg") for r in floor_rounds],
        "floor_cpu_ms_per_gift": floor_rounds[len(floor_rounds) // 2].get("cpu_ms_per_gift"),
        "http_to_floor": round(http_median / floor_median, 3) if floor_median else None,
        "_http": http_median,
        "_floor": floor_median,
    }


def main() -> None:
    """Start, seed, measure at 0 entries, fill, measure again, reconcile, report, stop."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=5_000_000, help="the large ledger size")
    parser.add_argument("--seconds", type=float, default=10, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2, help="seconds, per size")
    parser.add_argument("--senders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP connections")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--floor-connections", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR")
    args = parser.parse_args()

    with running_system(
        "gifts-bench-",
        keep=args.keep,
        web_workers=args.web_workers,
        extra={
            "GIFT_RATE_LIMIT": HIGH_RATE_LIMIT,
            "STREAMER_TIMEOUT_SECONDS": LONG_SECONDS,
        },
    ) as (var_dir, args.port):
        url = database_url(var_dir)
        log(f"seeding {args.senders} senders")
        seeded = seed(var_dir, args.senders)
        install_floor(url)
        report: dict = {
            "senders": args.senders,
            "streamers": STREAMERS,
            "clients": args.clients,
            "floor_connections": args.floor_connections,
            "web_workers": args.web_workers,
            "seconds": args.seconds,
            "rounds": args.rounds,
        }
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.client_processes) as pool:
            small = measure_size(pool, seeded, args, url)
            entries, fill_seconds = fill_history(url, args.entries)
            log(f"fill: {entries:,} entries in {fill_seconds:.0f} s")
            large = measure_size(pool, seeded, args, url)
        report["fill_seconds"] = round(fill_seconds)
        report["small"] = {k: v for k, v in small.items() if not k.startswith("_")}
        report["large"] = {k: v for k, v in large.items() if not k.startswith("_")}
        report["http_large_to_small"] = round(large["_http"] / small["_http"], 3)
        report["floor_large_to_small"] = round(large["_floor"] / small["_floor"], 3)
        report["targets"] = {
            "http_to_floor_at_least_0.30": min(small["http_to_floor"], large["http_to_floor"])
            >= 0.30,
            "http_large_to_small_within_15pct": abs(report["http_large_to_small"] - 1) <= 0.15,
        }
        log("reconciling")
        report["consistent"] = check_consistent(url)
        report["cpus"] = os.cpu_count()
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
