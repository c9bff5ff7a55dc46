"""Transfers per second through the ledger's service layer as its history grows.

    .venv/bin/python bench/ledger.py                      # 0, 1 M and 5 M entries
    .venv/bin/python bench/ledger.py --sizes 0 100000     # a quick run

Starts an embedded PostgreSQL in a temporary directory (or uses BENCH_DATABASE_URL, which
it wipes), builds the schema with the migrations, then for each history size: fills the
ledger with balanced history (bulk SQL, cached balances kept equal to the entries),
and runs --workers processes that each book --transfers spends of one coin through
the ledger's booking API (`ledger.booking.book` of a `ledger.wallet.spending` transfer:
conditional UPDATEs, one commit per transfer). Prints one JSON line per
size and repeat, then the medians and the ratio of the largest size to the smallest.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERS = 1000


def _environment(database_url: str) -> dict[str, str]:
    return {
        "APP_ENV": "testing",
        "SECRET_KEY": "bench-secret-key-bench-secret-key-0123",
        "DATABASE_URL": database_url,
        "REDIS_URL": "redis://127.0.0.1:1/0",  # unused by transfers
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_PING_IDLE_SECONDS": os.environ.get("DATABASE_POOL_PING_IDLE_SECONDS", "1"),
    }


def _app(database_url: str):
    from mylivelinks import create_app
    from mylivelinks.config import Config

    return create_app(Config(_environment(database_url)))


def prepare(database_url: str) -> list[str]:
    """Fresh schema, USERS profiles with funded coin accounts; returns their ids."""
    import flask_migrate
    from sqlalchemy import text

    from mylivelinks.extensions import db
    from mylivelinks.ledger.accounts import open_user_accounts
    from mylivelinks.ledger.booking import TransferKind
    from mylivelinks.ledger.wallet import credit_coins
    from mylivelinks.models import Profile
    from mylivelinks.models.ledger import AccountKind

    app = _app(database_url)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        ids = []
        for index in range(USERS):
            profile = Profile(username=f"bench_{index}", email=f"bench_{index}@bench.test")
            db.session.add(profile)
            db.session.flush()
            open_user_accounts(profile.id)
            credit_coins(
                profile.id,
                10_000_000,
                source_kind=AccountKind.ADJUSTMENTS,
                kind=TransferKind.ADJUSTMENT,
                source_ref=str(profile.id),
            )
            ids.append(str(profile.id))
        db.session.commit()
    return ids


FILL_SQL = """
WITH users AS (
    SELECT id AS coins_id, row_number() OVER (ORDER BY id) - 1 AS n
    FROM ledger_accounts WHERE kind = 'user_coins'
), txs AS (
    INSERT INTO ledger_transactions (id, kind, source_ref, fingerprint)
    SELECT gen_random_uuid(), 'bench_history', :batch || '-' || g, 'history'
    FROM generate_series(1, :count) AS g
    RETURNING id, (hashtext(source_ref) & 2147483647) % :users AS n
)
INSERT INTO ledger_entries (transaction_id, account_id, amount)
SELECT txs.id, users.coins_id, -1 FROM txs JOIN users USING (n)
UNION ALL
SELECT txs.id, :revenue, 1 FROM txs
"""


def fill_history(database_url: str, target_entries: int) -> int:
    """Add balanced two-entry transactions until the ledger holds `target_entries` entries."""
    from sqlalchemy import text

    from mylivelinks.extensions import db
    from mylivelinks.ledger.accounts import platform_account_id
    from mylivelinks.models.ledger import AccountKind

    app = _app(database_url)
    with app.app_context():
        current = db.session.scalar(text("SELECT count(*) FROM ledger_entries"))
        batch = 250_000
        while current < target_entries:
            count = min(batch, (target_entries - current) // 2) or 1
            db.session.execute(
                text(FILL_SQL),
                {
                    "batch": uuid.uuid4().hex,
                    "count": count,
                    "users": USERS,
                    "revenue": platform_account_id(AccountKind.PLATFORM_REVENUE),
                },
            )
            # Keep every cached balance equal to its entries (one set-based update).
            db.session.execute(
                text(
                    "UPDATE ledger_accounts a SET balance = s.total FROM "
                    "(SELECT account_id, SUM(amount) AS total FROM ledger_entries "
                    " GROUP BY account_id) s "
                    "WHERE s.account_id = a.id AND a.balance <> s.total"
                )
            )
            db.session.commit()
            current += 2 * count
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return db.session.scalar(text("SELECT count(*) FROM ledger_entries"))


_start_line = None


def _init_worker(barrier) -> None:
    global _start_line
    _start_line = barrier


def _worker(args: tuple[str, list[str], int, int]) -> tuple[float, float]:
    database_url, user_ids, transfers, seed = args
    from mylivelinks.extensions import db
    from mylivelinks.ledger.accounts import revenue_account_id
    from mylivelinks.ledger.booking import Posting, TransferKind, book
    from mylivelinks.ledger.wallet import spending

    app = _app(database_url)
    rng = random.Random(seed)

    def spend() -> None:
        # One coin from a random user to the platform, as the platform's share of a gift.
        source_ref = uuid.uuid4().hex
        transfer = spending(
            uuid.UUID(rng.choice(user_ids)),
            1,
            kind=TransferKind.GIFT,
            source_ref=source_ref,
            recipients=[Posting(revenue_account_id(source_ref), 100)],
        )
        book(transfer)
        db.session.commit()

    with app.app_context():
        spend()  # warm-up
        _start_line.wait()  # every worker is connected and warm: start together
        started = time.time()
        for _ in range(transfers):
            spend()
        return started, time.time()


def measure(database_url: str, user_ids: list[str], workers: int, transfers: int) -> float:
    """Transfers per second with `workers` processes booking `transfers` each."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    with context.Pool(workers, initializer=_init_worker, initargs=(barrier,)) as pool:
        spans = pool.map(_worker, [(database_url, user_ids, transfers, n) for n in range(workers)])
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return workers * transfers / elapsed


def check_consistent(database_url: str) -> bool:
    """Whether reconciliation finds every balance equal to its entries."""
    from mylivelinks.extensions import db
    from mylivelinks.ledger.reconciliation import reconcile

    app = _app(database_url)
    with app.app_context():
        run = reconcile()
        db.session.rollback()
        return run.ok


def main() -> None:
    """Run the benchmark and print JSON lines."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1_000_000, 5_000_000])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--transfers", type=int, default=500, help="per worker and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    server = None
    database_url = os.environ.get("BENCH_DATABASE_URL")
    if not database_url:
        from mylivelinks.dev import EmbeddedPostgres

        server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="ledger-bench-")) / "pgdata")
        database_url = server.start()
    try:
        user_ids = prepare(database_url)
        medians = {}
        for size in sorted(args.sizes):
            entries = fill_history(database_url, size)
            rates = [
                measure(database_url, user_ids, args.workers, args.transfers)
                for _ in range(args.repeats)
            ]
            medians[size] = statistics.median(rates)
            print(
                json.dumps(
                    {
                        "history_entries": entries,
                        "workers": args.workers,
                        "rates_per_s": [round(r) for r in rates],
                        "median_per_s": round(medians[size]),
                    }
                ),
                flush=True,
            )
        smallest, largest = min(medians), max(medians)
        print(
            json.dumps(
                {
                    "ratio_largest_to_smallest": round(medians[largest] / medians[smallest], 3),
                    "consistent": check_consistent(database_url),
                    "cpus": os.cpu_count(),
                }
            ),
            flush=True,
        )
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
