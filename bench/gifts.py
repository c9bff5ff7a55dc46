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
  in its own database only: the `ledger_transfer` call with the same postings, the gift row,
  the profile and stream counters) called from --floor-connections psycopg2 connections
  (autocommit: one round trip per gift) for --seconds.

The two alternate for --rounds rounds; between the sizes the ledger is bulk-filled the way
bench/ledger.py does it (balanced two-entry transactions, cached balances kept equal to
their entries), then vacuumed and analysed. While each phase runs, pg_stat_activity is
sampled to show how many backends were busy and how many waited on a lock. The run ends
with a full reconciliation. Progress goes to stderr; stdout gets one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
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

from system import (
    HIGH_RATE_LIMIT,
    LONG_LIVED,
    LONG_SECONDS,
    database_url,
    log,
    post,
    run_threads,
    running_system,
    seeding_app,
)

STREAMERS = 12
FUNDING_COINS = 1_000_000
QUANTITIES = (1, 1, 2, 3, 5)  # a Rose, or a few

FLOOR_FUNCTION = """
CREATE OR REPLACE FUNCTION bench_gift_floor(
    p_gift_id uuid, p_sender uuid, p_recipient uuid, p_stream uuid, p_room uuid,
    p_position int, p_gift_type uuid, p_quantity int, p_streamer_percent int,
    p_sender_coins uuid, p_sender_debt uuid, p_earnings uuid, p_revenue uuid
) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_name text;
    v_coins bigint;
    v_streamer bigint;
    v_platform bigint;
    v_accounts uuid[];
    v_amounts bigint[];
    v_canonical text;
    v_tx uuid;
    v_outcome text;
BEGIN
    -- services.gifts.send_gift: the gift type, the cost and the exact split.
    SELECT name, coin_cost * p_quantity INTO v_name, v_coins
    FROM gift_types WHERE id = p_gift_type AND active;
    IF v_coins IS NULL THEN
        RAISE EXCEPTION 'no such gift %', p_gift_type;
    END IF;
    v_streamer := v_coins * 100 * p_streamer_percent / 100;
    v_platform := v_coins * 100 - v_streamer;
    -- ledger.transfers.transfer: postings merged per account, sorted by id, zeros dropped,
    -- and the sha256 fingerprint of "account:amount;..." (the same text Python hashes).
    SELECT array_agg(account ORDER BY account), array_agg(total ORDER BY account),
           string_agg(account::text || ':' || total::text, ';' ORDER BY account)
    INTO v_accounts, v_amounts, v_canonical
    FROM (
        SELECT account, sum(amount)::bigint AS total
        FROM (VALUES (p_sender_coins, -v_coins * 100), (p_earnings, v_streamer),
                     (p_revenue, v_platform)) AS posting(account, amount)
        GROUP BY account HAVING sum(amount) <> 0
    ) AS merged;
    SELECT t.transaction_id, t.outcome INTO v_tx, v_outcome
    FROM ledger_transfer('gift', p_gift_id::text,
                         encode(sha256(convert_to(v_canonical, 'UTF8')), 'hex'),
                         jsonb_build_object('gift_type', v_name, 'quantity', p_quantity),
                         v_accounts, v_amounts, p_sender_debt) AS t;
    IF v_outcome <> 'booked' THEN
        RAISE EXCEPTION 'gift % not booked: %', p_gift_id, v_outcome;
    END IF;
    INSERT INTO gifts (id, sender_id, recipient_id, stream_id, room_id, position, gift_type_id,
                       quantity, coins, streamer_share_centicoins, platform_share_centicoins,
                       transaction_id)
    VALUES (p_gift_id, p_sender, p_recipient, p_stream, p_room, p_position, p_gift_type,
            p_quantity, v_coins, v_streamer, v_platform, v_tx);
    -- services.gifts._count: the two profiles in id order, then the stream.
    IF p_sender < p_recipient THEN
        UPDATE profiles SET gifts_sent_coins = gifts_sent_coins + v_coins WHERE id = p_sender;
        UPDATE profiles SET gifts_received_coins = gifts_received_coins + v_coins
        WHERE id = p_recipient;
    ELSE
        UPDATE profiles SET gifts_received_coins = gifts_received_coins + v_coins
        WHERE id = p_recipient;
        UPDATE profiles SET gifts_sent_coins = gifts_sent_coins + v_coins WHERE id = p_sender;
    END IF;
    IF p_stream IS NOT NULL THEN
        UPDATE streams SET gifts_received = gifts_received + p_quantity,
                           gift_coins_received = gift_coins_received + v_coins
        WHERE id = p_stream;
    END IF;
    RETURN v_tx;
END $$
"""

SAMPLE_SQL = """
SELECT count(*) FILTER (WHERE state = 'active'),
       count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'),
       count(*) FILTER (WHERE state = 'idle in transaction')
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


def seed(var_dir: Path, senders: int) -> dict:
    """12 live streamers in `main` and funded senders; what the clients need to send gifts."""
    from sqlalchemy import select

    from mylivelinks.extensions import db
    from mylivelinks.ledger.accounts import open_user_accounts, user_accounts
    from mylivelinks.ledger.wallet import credit_coins
    from mylivelinks.models import GiftType, Profile
    from mylivelinks.models.ledger import ADJUSTMENTS
    from mylivelinks.services import live
    from mylivelinks.services.rooms import get_room
    from mylivelinks.services.tokens import mint_access_token

    app = seeding_app(var_dir, **LONG_LIVED)
    now = datetime.now(UTC)
    with app.app_context():
        streamers = []
        for index in range(STREAMERS):
            streamer = Profile(username=f"gift_streamer_{index}", email=f"gs{index}@bench.test")
            db.session.add(streamer)
            db.session.flush()
            result = live.go_live(
                get_room("main", lock=True), streamer, title=None, position=index + 1, now=now
            )
            open_user_accounts(streamer.id)
            streamers.append((streamer, result.stream))
        people = [
            Profile(id=uuid.uuid4(), username=f"gift_sender_{i}", email=f"gsend{i}@bench.test")
            for i in range(senders)
        ]
        db.session.add_all(people)
        db.session.flush()
        # Everyone holds coins: the history fill debits every user's coin account a little.
        for person in [*people, *(streamer for streamer, _ in streamers)]:
            credit_coins(
                person.id,
                FUNDING_COINS,
                source_kind=ADJUSTMENTS,
                kind="bench_fund",
                source_ref=str(person.id),
            )
        db.session.commit()
        room = get_room("main")
        rose = db.session.scalar(select(GiftType).where(GiftType.name == "Rose"))
        return {
            "room_id": str(room.id),
            "rose_id": str(rose.id),
            "streamer_percent": app.config["GIFT_STREAMER_SHARE_PERCENT"],
            "tokens": [mint_access_token(person)[0] for person in people],
            "senders": [
                {
                    "id": str(person.id),
                    "coins": str(user_accounts(person.id).coins),
                    "debt": str(user_accounts(person.id).debt),
                }
                for person in people
            ],
            "boxes": [
                {
                    "position": index + 1,
                    "streamer": str(streamer.id),
                    "stream": str(stream.id),
                    "earnings": str(user_accounts(streamer.id).earnings),
                }
                for index, (streamer, stream) in enumerate(streamers)
            ],
        }


def fill_history(url: str, target_entries: int) -> tuple[int, float]:
    """Bulk-add balanced history until the ledger holds `target_entries` entries.

    bench/ledger.py's FILL_SQL (two-entry transactions: one centicoin from a user's coins
    to platform revenue); each batch then adds its own entries' sums to the cached balances,
    so reconciliation still holds. Nothing else writes the ledger meanwhile. Returns the
    entries and the seconds it took.
    """
    import ledger  # bench/ledger.py
    from sqlalchemy import create_engine, text

    from mylivelinks.ledger.accounts import platform_account_id
    from mylivelinks.models.ledger import PLATFORM_REVENUE

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    started = time.monotonic()
    with engine.connect() as conn:
        current = conn.scalar(text("SELECT count(*) FROM ledger_entries"))
        users = conn.scalar(text("SELECT count(*) FROM ledger_accounts WHERE kind = 'user_coins'"))
        conn.commit()
        log(f"fill: {current:,} entries, target {target_entries:,}")
        while current < target_entries:
            count = min(250_000, (target_entries - current) // 2) or 1
            before = conn.scalar(text("SELECT coalesce(max(id), 0) FROM ledger_entries"))
            conn.execute(
                text(ledger.FILL_SQL),
                {
                    "batch": uuid.uuid4().hex,
                    "count": count,
                    "users": users,
                    "revenue": platform_account_id(PLATFORM_REVENUE),
                },
            )
            conn.execute(
                text(
                    "UPDATE ledger_accounts a SET balance = a.balance + s.total FROM "
                    "(SELECT account_id, SUM(amount) AS total FROM ledger_entries "
                    " WHERE id > :before GROUP BY account_id) s WHERE s.account_id = a.id"
                ),
                {"before": before},
            )
            conn.commit()  # the deferred balance check runs here, per entry
            current += 2 * count
            elapsed = time.monotonic() - started
            log(f"fill: {current:,} entries after {elapsed:.0f} s")
    # A freshly loaded table would get autovacuumed during the measurement, and the fill's
    # WAL would be checkpointed then: do both now.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        log("fill: VACUUM (ANALYZE), CHECKPOINT")
        conn.execute(text("VACUUM (ANALYZE) ledger_entries, ledger_transactions, ledger_accounts"))
        conn.execute(text("CHECKPOINT"))
        entries = conn.scalar(text("SELECT count(*) FROM ledger_entries"))
    engine.dispose()
    return entries, time.monotonic() - started


def count_entries(url: str) -> int:
    """Entries in the ledger now."""
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM ledger_entries")
        count = cur.fetchone()[0]
    conn.close()
    return count


def install_floor(url: str) -> None:
    """Create the floor's function in the benchmark's database (never in the product)."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(FLOOR_FUNCTION)
    conn.close()


class ActivitySampler:
    """Samples pg_stat_activity every 0.1 s: backends busy, waiting on a lock, and idle in a
    transaction (holding its locks while the app works)."""

    def __init__(self, url: str):
        self.url = url
        self.samples: list[tuple[int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psycopg2

        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not self._stop.wait(0.1):
                cur.execute(SAMPLE_SQL)
                self.samples.append(cur.fetchone())
        conn.close()

    def summary(self) -> dict:
        """Mean backends busy, waiting on a lock, idle in a transaction."""
        if not self.samples:
            return {}
        active, waiting, idle = zip(*self.samples, strict=True)
        return {
            "pg_active_avg": round(statistics.fmean(active), 2),
            "pg_lock_wait_avg": round(statistics.fmean(waiting), 2),
            "pg_idle_in_tx_avg": round(statistics.fmean(idle), 2),
        }


def _http_client(args: tuple) -> list[tuple[float, int]]:
    """One client process: `threads` keep-alive connections sending gifts in the window."""
    port, tokens, rose_id, positions, start_at, stop_at, threads, seed_value = args
    results: list[tuple[float, int]] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        rng = random.Random(seed_value * 1000 + index)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
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
            connection, status = post(connection, port, "/api/v1/gifts", body, headers)
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
    with ActivitySampler(url) as sampler:
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
        **sampler.summary(),
    }


def floor_phase(seeded: dict, args: argparse.Namespace, seconds: float, url: str) -> dict:
    """The same gifts through `bench_gift_floor`, one autocommit call each, for `seconds`."""
    import psycopg2

    from mylivelinks.ledger.accounts import revenue_account_id

    counts: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    connections = [psycopg2.connect(url) for _ in range(args.floor_connections)]
    for conn in connections:
        conn.autocommit = True
    start_at = time.time() + 0.3
    stop_at = start_at + seconds

    def run(conn, index: int) -> None:
        rng = random.Random(random.randrange(1 << 30) + index)
        done, failed = 0, []
        with conn.cursor() as cur:
            time.sleep(max(0.0, start_at - time.time()))
            while time.time() < stop_at:
                sender = rng.choice(seeded["senders"])
                box = rng.choice(seeded["boxes"])
                gift_id = str(uuid.uuid4())
                try:
                    cur.execute(
                        "SELECT bench_gift_floor(%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                        "%s, %s, %s, %s)",
                        (
                            gift_id,
                            sender["id"],
                            box["streamer"],
                            box["stream"],
                            seeded["room_id"],
                            box["position"],
                            seeded["rose_id"],
                            rng.choice(QUANTITIES),
                            seeded["streamer_percent"],
                            sender["coins"],
                            sender["debt"],
                            box["earnings"],
                            str(revenue_account_id(gift_id)),
                        ),
                    )
                    cur.fetchone()
                except psycopg2.Error as exc:
                    failed.append(type(exc).__name__)
                    continue
                if time.time() <= stop_at:
                    done += 1
        with lock:
            counts.append(done)
            errors.extend(failed)

    threads = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(connections)]
    with ActivitySampler(url) as sampler:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for conn in connections:
        conn.close()
    errors_by_kind: dict[str, int] = {}
    for name in errors:
        errors_by_kind[name] = errors_by_kind.get(name, 0) + 1
    return {"gifts_per_s": sum(counts) / seconds, "errors": errors_by_kind, **sampler.summary()}


def check_consistent(url: str) -> bool:
    """Whether reconciliation finds every balance equal to its entries."""
    import ledger  # bench/ledger.py

    return ledger.check_consistent(url.replace("postgresql://", "postgresql+psycopg2://", 1))


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
        "floor_per_s": [round(r["gifts_per_s"]) for r in floor_rounds],
        "floor_median_per_s": round(floor_median),
        "floor_errors": [r["errors"] for r in floor_rounds if r["errors"]],
        "floor_pg_active_avg": [r.get("pg_active_avg") for r in floor_rounds],
        "floor_pg_lock_wait_avg": [r.get("pg_lock_wait_avg") for r in floor_rounds],
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
    parser.add_argument("--web-threads", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR")
    args = parser.parse_args()

    with running_system(
        "gifts-bench-",
        keep=args.keep,
        web_workers=args.web_workers,
        web_threads=args.web_threads,
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
