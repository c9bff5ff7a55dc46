"""Leaderboard rebuilds over a large gift history, and reads while rebuilds run.

    .venv/bin/python bench/leaderboards.py                         # 1 M gifts, 10,000 gifters
    .venv/bin/python bench/leaderboards.py --gifts 100000 --seconds 5   # a quick look

Starts the whole system with `python -m mylivelinks.dev run` (embedded PostgreSQL and
Redis in a temporary VAR_DIR, 2 gunicorn workers), then bulk-loads in SQL --streamers
streamers and --gifters gifters (profiles) and --gifts gifts spread over the last --days
days: each a copy of one real gift sent through the service (for its gift type and ledger
transaction), from a random gifter to a streamer drawn with a skew (a few streamers get
most gifts), worth a catalog price times 1-5. Then:

* rebuild: `rebuild_leaderboards` (the job, in this process: the SQL, the commit and the
  event) --rebuilds times back to back; the median and each run's seconds;
* reads: --readers clients (asyncio raw sockets, in --client-processes processes), each on
  a keep-alive connection, send `GET /api/v1/leaderboards/{board}?period=...&limit=100`
  (random board and period) for --seconds, while a thread here rebuilds back to back (or
  --rebuild-pauses seconds apart; production rebuilds every LEADERBOARD_REBUILD_SECONDS).
  At each of --rates the readers together send that many requests per second on a fixed
  schedule (each reader its share), so the latency is not queueing behind 50 readers on 2
  cores; rate 0 sends as fast as answered (the throughput ceiling). One phase per pause
  and rate: latency p50/p95/p99, rate, errors, the rebuilds done meanwhile.

Progress goes to stderr; stdout gets one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import threading
import time
from datetime import UTC, datetime

from processes import CpuMeter
from system import LONG_LIVED, log, running_system, seeding_app

BOARDS = ("streamers", "gifters")
PERIODS = ("day", "week", "month", "all_time")

PROFILES_SQL = """
INSERT INTO profiles (id, username, email)
SELECT gen_random_uuid(), :prefix || i, :prefix || i || '@bench.test'
FROM generate_series(1, :count) AS i
"""
# The streamer of gift g is drawn with random()^3: the first streamers get most gifts.
GIFTS_SQL = """
WITH people AS (
    SELECT (SELECT array_agg(id ORDER BY id) FROM profiles WHERE username LIKE 'lb_streamer_%')
               AS streamers,
           (SELECT array_agg(id ORDER BY id) FROM profiles WHERE username LIKE 'lb_gifter_%')
               AS gifters
), drawn AS (
    SELECT 1 + floor(random() * :gifters)::int AS gifter,
           1 + floor(power(random(), 3) * :streamers)::int AS streamer,
           (ARRAY[1, 2, 5, 10, 20, 50, 100])[1 + floor(random() * 7)::int] AS price,
           1 + floor(random() * 5)::int AS quantity,
           :now - random() * :days * interval '1 day' AS created_at
    FROM generate_series(1, :count)
)
INSERT INTO gifts (id, sender_id, recipient_id, gift_type_id, quantity, coins,
                   streamer_share_centicoins, platform_share_centicoins, transaction_id,
                   created_at)
SELECT gen_random_uuid(), p.gifters[d.gifter], p.streamers[d.streamer], :gift_type,
       d.quantity, d.price * d.quantity, d.price * d.quantity * 70, d.price * d.quantity * 30,
       :transaction, d.created_at
FROM drawn AS d, people AS p
"""


def seed(var_dir, args):
    """The profiles, one real gift, and --gifts copies of it, in batches, then VACUUM
    (ANALYZE); returns the seeding app."""
    from sqlalchemy import select, text

    from mylivelinks.extensions import db
    from mylivelinks.ledger.booking import TransferKind
    from mylivelinks.ledger.wallet import credit_coins
    from mylivelinks.models import Gift, GiftType
    from mylivelinks.models.ledger import AccountKind
    from mylivelinks.services.gifts.sending import send_gift

    app = seeding_app(var_dir, **LONG_LIVED)
    with app.app_context():
        for prefix, count in (("lb_streamer_", args.streamers), ("lb_gifter_", args.gifters)):
            db.session.execute(text(PROFILES_SQL), {"prefix": prefix, "count": count})
        sender, recipient = db.session.execute(
            text(
                "SELECT (SELECT id FROM profiles WHERE username = 'lb_gifter_1'), "
                "(SELECT username FROM profiles WHERE username = 'lb_streamer_1')"
            )
        ).one()
        credit_coins(
            sender,
            10,
            source_kind=AccountKind.ADJUSTMENTS,
            kind=TransferKind.ADJUSTMENT,
            source_ref="lb",
        )
        rose = db.session.scalar(select(GiftType).where(GiftType.name == "Rose"))
        sent = send_gift(
            sender, rose.id, 1, room=None, position=None, recipient=recipient, streamer_percent=70
        )
        real = db.session.get(Gift, sent.id)
        db.session.commit()
        started = time.monotonic()
        now = datetime.now(UTC)
        batch = 250_000
        for offset in range(0, args.gifts, batch):
            db.session.execute(
                text(GIFTS_SQL),
                {
                    "gifters": args.gifters,
                    "streamers": args.streamers,
                    "days": args.days,
                    "now": now,
                    "count": min(batch, args.gifts - offset),
                    "gift_type": real.gift_type_id,
                    "transaction": real.transaction_id,
                },
            )
            db.session.commit()
            log(f"gifts: {offset + min(batch, args.gifts - offset):,}")
        log(f"loaded {args.gifts:,} gifts in {time.monotonic() - started:.0f} s")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) gifts"))
            conn.execute(text("CHECKPOINT"))
    return app


def rebuild_once(app) -> dict:
    """One rebuild through the job function; its summary, with the wall time around it."""
    from mylivelinks.jobs.leaderboards import rebuild_leaderboards

    started = time.perf_counter()
    with app.app_context():
        summary = rebuild_leaderboards()
    return {**summary, "wall_seconds": time.perf_counter() - started}


def board_sizes(app) -> dict[str, int]:
    from sqlalchemy import text

    from mylivelinks.extensions import db

    with app.app_context():
        rows = db.session.execute(
            text("SELECT board, period, count(*) FROM leaderboard_entries GROUP BY 1, 2")
        )
        return {f"{board}/{period}": count for board, period, count in rows}


async def _get(reader, writer, path: str) -> int:
    """One GET on a keep-alive connection; the status (the body is read and dropped)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _reader(port, rng, start_at, stop_at, interval, results) -> None:
    """One reader: GETs on its connection until `stop_at`, `interval` s apart (0: at once)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # Readers start spread over one interval, so a paced load is even.
    next_at = start_at + rng.random() * interval
    while True:
        await asyncio.sleep(max(0.0, next_at - time.time()))
        if time.time() >= stop_at:
            break
        path = f"/api/v1/leaderboards/{rng.choice(BOARDS)}?period={rng.choice(PERIODS)}&limit=100"
        started = time.perf_counter()
        try:
            status = await _get(reader, writer, path)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status = 0
        results.append((time.perf_counter() - started, status))
        next_at = max(next_at + interval, time.time()) if interval else time.time()
    writer.close()


def _readers(job: tuple) -> list[tuple[float, int]]:
    """One client process: `count` readers on asyncio raw sockets (cheap on the CPU the
    server needs), each on its own keep-alive connection."""
    port, count, start_at, stop_at, interval, seed_value = job
    results: list[tuple[float, int]] = []

    async def run_all() -> None:
        await asyncio.gather(
            *(
                _reader(
                    port, random.Random(seed_value * 1000 + i), start_at, stop_at, interval, results
                )
                for i in range(count)
            )
        )

    asyncio.run(run_all())
    return results


def read_phase(pool, app, args, rate: float, pause: float) -> dict:
    """Readers for --seconds while rebuilds run here (back to back, or `pause` seconds apart)."""
    processes = args.client_processes
    per_process = [
        args.readers // processes + (i < args.readers % processes) for i in range(processes)
    ]
    interval = args.readers / rate if rate else 0.0
    start_at = time.time() + 1.0
    stop_at = start_at + args.seconds
    rebuilds: list[float] = []
    stop = threading.Event()

    def rebuild_loop() -> None:
        time.sleep(max(0.0, start_at - time.time()))
        while not stop.is_set():
            rebuilds.append(rebuild_once(app)["wall_seconds"])
            stop.wait(pause)

    rebuilder = threading.Thread(target=rebuild_loop)
    rebuilder.start()
    jobs = [
        (args.port, per_process[i], start_at, stop_at, interval, random.randrange(1 << 30))
        for i in range(processes)
    ]
    try:
        with CpuMeter() as cpu:
            chunks = pool.map(_readers, jobs, chunksize=1)
    finally:
        stop.set()
        rebuilder.join()
    samples = [sample for chunk in chunks for sample in chunk]
    ok = sorted(latency for latency, status in samples if status == 200)
    errors: dict[str, int] = {}
    for _, status in samples:
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
    quantile = statistics.quantiles(ok, n=100) if len(ok) > 1 else None
    return {
        "readers": args.readers,
        "rate_target": rate or "unpaced",
        "rebuild_pause_s": pause,
        "requests_per_s": round(len(ok) / args.seconds, 1),
        "p50_ms": round(quantile[49] * 1000, 1) if quantile else None,
        "p95_ms": round(quantile[94] * 1000, 1) if quantile else None,
        "p99_ms": round(quantile[98] * 1000, 1) if quantile else None,
        "max_ms": round(ok[-1] * 1000, 1) if ok else None,
        "errors": errors,
        "rebuilds_during": len(rebuilds),
        "rebuild_median_s_during": round(statistics.median(rebuilds), 3) if rebuilds else None,
        "cpu_ms_per_read": cpu.per_item_ms(len(ok)),
    }


def main() -> None:
    """Start, load, time the rebuilds, measure reads during rebuilds, report, stop."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--gifts", type=int, default=1_000_000)
    parser.add_argument("--gifters", type=int, default=10_000)
    parser.add_argument("--streamers", type=int, default=1_000)
    parser.add_argument("--days", type=float, default=60, help="the history's span")
    parser.add_argument("--rebuilds", type=int, default=5, help="timed back-to-back rebuilds")
    parser.add_argument("--readers", type=int, default=50, help="concurrent HTTP readers")
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[200],
        help="requests/s in all, one read phase each; 0: unpaced",
    )
    parser.add_argument("--seconds", type=float, default=20, help="of the read phase")
    parser.add_argument(
        "--rebuild-pauses",
        type=float,
        nargs="+",
        default=[0],
        help="seconds between rebuilds while reading, one read phase each (with each rate)",
    )
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR")
    args = parser.parse_args()

    with running_system(
        "leaderboards-bench-",
        keep=args.keep,
        web_workers=args.web_workers,
    ) as (var_dir, args.port):
        log(f"loading {args.gifts:,} gifts by {args.gifters:,} gifters to {args.streamers:,}")
        app = seed(var_dir, args)
        log(f"timing {args.rebuilds} rebuilds")
        runs = []
        for _ in range(args.rebuilds):
            runs.append(rebuild_once(app))
            log(f"rebuild: {runs[-1]['wall_seconds']:.2f} s, {runs[-1]['entries']:,} entries")
        seconds = [run["wall_seconds"] for run in runs]
        context = multiprocessing.get_context("spawn")
        reads = []
        with context.Pool(args.client_processes) as pool:
            for pause in args.rebuild_pauses:
                for rate in args.rates:
                    pace = f"{rate:.0f}/s" if rate else "unpaced"
                    log(f"reads: {args.readers} readers, {pace}, rebuilds {pause} s apart")
                    reads.append(read_phase(pool, app, args, rate, pause))
                    log(f"p50 {reads[-1]['p50_ms']} ms, p95 {reads[-1]['p95_ms']} ms")
        report = {
            "gifts": args.gifts,
            "gifters": args.gifters,
            "streamers": args.streamers,
            "entries": runs[-1]["entries"],
            "boards": board_sizes(app),
            "rebuild_seconds": [round(s, 3) for s in seconds],
            "rebuild_median_s": round(statistics.median(seconds), 3),
            "reads": reads,
            "targets": {
                "rebuild_median_at_most_5_s": statistics.median(seconds) <= 5,
                "read_p95_at_most_20_ms": [
                    r["p95_ms"] is not None and r["p95_ms"] <= 20 for r in reads
                ],
            },
            "web_workers": args.web_workers,
            "cpus": os.cpu_count(),
        }
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
