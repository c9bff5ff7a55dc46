"""The database side of bench/gifts.py: the floor function, the history fill, sampling.

The floor (`bench_gift_floor`) exists only in the benchmark's own database: it is the
same gift as the product books, done in one plpgsql call, to compare the HTTP path with.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
import uuid

from processes import CpuMeter
from system import log

QUANTITIES = (1, 1, 2, 3, 5)  # a Rose, or a few

FLOOR_FUNCTION = """
CREATE OR REPLACE FUNCTION bench_gift_floor(
    p_gift_id uuid, p_sender uuid, p_room text, p_position int, p_gift_type uuid,
    p_quantity int, p_streamer_percent int, p_sender_coins uuid, p_sender_earnings uuid,
    p_sender_debt uuid, p_revenue uuid
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_sender text;
    v_sender_display text;
    v_sender_avatar text;
    v_gift_name text;
    v_emoji text;
    v_cost int;
    v_animation text;
    v_rarity text;
    v_sort int;
    v_active boolean;
    v_room uuid;
    v_stream uuid;
    v_recipient uuid;
    v_recipient_name text;
    v_recipient_display text;
    v_recipient_avatar text;
    v_earnings uuid;
    v_coins bigint;
    v_streamer bigint;
    v_platform bigint;
    v_accounts uuid[];
    v_amounts bigint[];
    v_canonical text;
    v_tx uuid;
    v_outcome text;
    v_wallet bigint;
BEGIN
    -- gifts.statements.context_statement: the sender, the gift type, the room, the box's live
    -- stream and its streamer, as the API names them.
    SELECT s.username, s.display_name, s.avatar_url,
           g.name, g.emoji, g.coin_cost, g.animation, g.rarity, g.sort_order, g.active,
           r.id, st.id, rc.id, rc.username, rc.display_name, rc.avatar_url
    INTO v_sender, v_sender_display, v_sender_avatar,
         v_gift_name, v_emoji, v_cost, v_animation, v_rarity, v_sort, v_active,
         v_room, v_stream, v_recipient, v_recipient_name, v_recipient_display,
         v_recipient_avatar
    FROM profiles s
    LEFT JOIN gift_types g ON g.id = p_gift_type
    LEFT JOIN rooms r ON r.slug = p_room
    LEFT JOIN boxes b ON b.room_id = r.id AND b.position = p_position
    LEFT JOIN streams st ON st.box_id = b.id AND st.status = 'live'
    LEFT JOIN profiles rc ON rc.id = st.streamer_id
    WHERE s.id = p_sender;
    IF v_stream IS NULL OR v_recipient = p_sender OR NOT v_active THEN
        RAISE EXCEPTION 'gift % refused', p_gift_id;
    END IF;
    -- The streamer's earnings account (the product derives its id without a query).
    SELECT id INTO v_earnings FROM ledger_accounts
    WHERE owner_id = v_recipient AND kind = 'user_earnings';
    -- services.gifts.split: the cost and the exact split.
    v_coins := v_cost * p_quantity;
    v_streamer := v_coins * 100 * p_streamer_percent / 100;
    v_platform := v_coins * 100 - v_streamer;
    -- ledger.booking.Transfer.of: postings merged per account, sorted by id, zeros dropped,
    -- and the sha256 fingerprint of "account:amount;..." (the same text Python hashes).
    SELECT array_agg(account ORDER BY account), array_agg(total ORDER BY account),
           string_agg(account::text || ':' || total::text, ';' ORDER BY account)
    INTO v_accounts, v_amounts, v_canonical
    FROM (
        SELECT account, sum(amount)::bigint AS total
        FROM (VALUES (p_sender_coins, -v_coins * 100), (v_earnings, v_streamer),
                     (p_revenue, v_platform)) AS posting(account, amount)
        GROUP BY account HAVING sum(amount) <> 0
    ) AS merged;
    SELECT t.transaction_id, t.outcome INTO v_tx, v_outcome
    FROM ledger_transfer('gift', p_gift_id::text,
                         encode(sha256(convert_to(v_canonical, 'UTF8')), 'hex'),
                         jsonb_build_object('gift_type', v_gift_name, 'quantity', p_quantity),
                         v_accounts, v_amounts, p_sender_debt) AS t;
    IF v_outcome <> 'booked' THEN
        RAISE EXCEPTION 'gift % not booked: %', p_gift_id, v_outcome;
    END IF;
    -- gifts.statements.booking_statement: the gift, both profiles' and the stream's counters,
    -- the chat's gift line, and the sender's wallet after the transfer.
    INSERT INTO gifts (id, sender_id, recipient_id, stream_id, room_id, position, gift_type_id,
                       quantity, coins, streamer_share_centicoins, platform_share_centicoins,
                       transaction_id)
    VALUES (p_gift_id, p_sender, v_recipient, v_stream, v_room, p_position, p_gift_type,
            p_quantity, v_coins, v_streamer, v_platform, v_tx);
    UPDATE profiles
    SET gifts_sent_coins = gifts_sent_coins
            + CASE WHEN id = p_sender THEN v_coins ELSE 0 END,
        gifts_received_coins = gifts_received_coins
            + CASE WHEN id = v_recipient THEN v_coins ELSE 0 END
    WHERE id IN (p_sender, v_recipient);
    UPDATE streams SET gifts_received = gifts_received + p_quantity,
                       gift_coins_received = gift_coins_received + v_coins
    WHERE id = v_stream;
    INSERT INTO chat_messages (id, room_id, kind, body)
    VALUES (gen_random_uuid(), v_room, 'gift',
            left(v_sender || ' sent ' || v_recipient_name || ' ' || p_quantity || ' x '
                 || v_emoji || ' ' || v_gift_name, 500));
    SELECT sum(balance) INTO v_wallet FROM ledger_accounts
    WHERE id IN (p_sender_coins, p_sender_earnings, p_sender_debt);
    RETURN v_wallet;
END $$
"""

SAMPLE_SQL = """
SELECT count(*) FILTER (WHERE state = 'active'),
       count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'),
       count(*) FILTER (WHERE state = 'idle in transaction')
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


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
    from mylivelinks.models.ledger import AccountKind

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
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
                    "revenue": platform_account_id(AccountKind.PLATFORM_REVENUE),
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
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM ledger_entries")
        count = cur.fetchone()[0]
    conn.close()
    return count


def install_floor(url: str) -> None:
    """Create the floor's function in the benchmark's database (never in the product)."""
    import psycopg

    conn = psycopg.connect(url)
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
        import psycopg

        conn = psycopg.connect(self.url)
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


def floor_phase(seeded: dict, args: argparse.Namespace, seconds: float, url: str) -> dict:
    """The same gifts through `bench_gift_floor`, one autocommit call each, for `seconds`."""
    import psycopg

    from mylivelinks.ledger.accounts import revenue_account_id

    counts: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    connections = [psycopg.connect(url) for _ in range(args.floor_connections)]
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
                position = rng.choice(seeded["boxes"])["position"]
                gift_id = str(uuid.uuid4())
                try:
                    cur.execute(
                        "SELECT bench_gift_floor(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        (
                            gift_id,
                            sender["id"],
                            "main",
                            position,
                            seeded["rose_id"],
                            rng.choice(QUANTITIES),
                            seeded["streamer_percent"],
                            sender["coins"],
                            sender["earnings"],
                            sender["debt"],
                            str(revenue_account_id(gift_id)),
                        ),
                    )
                    cur.fetchone()
                except psycopg.Error as exc:
                    failed.append(type(exc).__name__)
                    continue
                if time.time() <= stop_at:
                    done += 1
        with lock:
            counts.append(done)
            errors.extend(failed)

    threads = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(connections)]
    with ActivitySampler(url) as sampler, CpuMeter() as cpu:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for conn in connections:
        conn.close()
    errors_by_kind: dict[str, int] = {}
    for name in errors:
        errors_by_kind[name] = errors_by_kind.get(name, 0) + 1
    return {
        "gifts_per_s": sum(counts) / seconds,
        "errors": errors_by_kind,
        "cpu_ms_per_gift": cpu.per_item_ms(sum(counts)),
        **sampler.summary(),
    }


def check_consistent(url: str) -> bool:
    """Whether reconciliation finds every balance equal to its entries."""
    import ledger  # bench/ledger.py

    return ledger.check_consistent(url.replace("postgresql://", "postgresql+psycopg://", 1))
