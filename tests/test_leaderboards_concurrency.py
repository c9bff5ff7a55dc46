"""Readers on their own connections while rebuilds run: never a half-written board; the
event goes out only once the new boards are visible."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from mylivelinks.events.streams import (
    LEADERBOARD_UPDATED,
    current_last_id,
    read_events,
    room_stream_key,
)
from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs.leaderboards import enqueue_rebuild, rebuild_leaderboards
from mylivelinks.models import Gift
from tests.money import run_jobs
from tests.test_leaderboards import direct_aggregation, funded, gift_now, local_bounds

pytestmark = pytest.mark.real_session

STREAMERS, GIFTERS, GIFTS = 200, 1800, 60_000
REBUILDS_PER_WRITER = 6

BULK_PROFILES = text(
    """
    INSERT INTO profiles (id, username, email)
    SELECT gen_random_uuid(), 'lbc_' || i, 'lbc_' || i || '@example.com'
    FROM generate_series(1, :count) AS i
    """
)
# Copies of one real gift (its type and ledger transaction) over the last 40 days, from the
# gifters to the streamers, 1 to 50 coins each.
BULK_GIFTS = text(
    """
    WITH people AS (
        SELECT array_agg(id ORDER BY id) AS ids FROM profiles WHERE username LIKE 'lbc_%'
    )
    INSERT INTO gifts (id, sender_id, recipient_id, gift_type_id, quantity, coins,
                       streamer_share_centicoins, platform_share_centicoins, transaction_id,
                       created_at)
    SELECT gen_random_uuid(), ids[CAST(:streamers + 1 + (g * 7919) % :gifters AS int)],
           ids[CAST(1 + (g * 104729) % :streamers AS int)], :gift_type, 1 + g % 50,
           1 + g % 50, (1 + g % 50) * 70, (1 + g % 50) * 30, :transaction,
           CAST(:now AS timestamptz) - (g % 40) * interval '1 day' - (g % 86400) * interval '1 s'
    FROM generate_series(1, CAST(:gifts AS bigint)) AS g, people
    """
)
# One statement, so one snapshot: every header with its entries' count, rank range and any
# entry that belongs to another rebuild.
SNAPSHOT = text(
    """
    SELECT l.board, l.period, l.period_start, l.computed_at,
           count(e.rank) AS entries, coalesce(max(e.rank), 0) AS last_rank,
           count(*) FILTER (WHERE e.computed_at <> l.computed_at) AS foreign_entries
    FROM leaderboards AS l
    LEFT JOIN leaderboard_entries AS e ON e.board = l.board AND e.period = l.period
    GROUP BY l.board, l.period, l.period_start, l.computed_at
    """
)


def seed_history(api, app, now: datetime) -> None:
    [gifter] = funded(api, app, 1)
    gift_now(api, gifter, api.register(), 1)
    with app.app_context():
        real = db.session.scalars(select(Gift)).one()
        db.session.execute(BULK_PROFILES, {"count": STREAMERS + GIFTERS})
        db.session.execute(
            BULK_GIFTS,
            {
                "gift_type": real.gift_type_id,
                "transaction": real.transaction_id,
                "now": now,
                "gifts": GIFTS,
                "streamers": STREAMERS,
                "gifters": GIFTERS,
            },
        )
        db.session.commit()


def test_readers_see_the_old_or_the_new_boards_whole_while_rebuilds_run(api, app, main_room):
    now = datetime.now(UTC).replace(microsecond=0)
    variants = (now, now - timedelta(days=10))  # different days and weeks, other sizes
    seed_history(api, app, now)
    expected = {}  # the day's start identifies the variant a reader sees
    with app.app_context():
        for variant in variants:
            bounds = local_bounds(variant)
            sizes = {key: len(rows) for key, rows in direct_aggregation(bounds).items()}
            expected[bounds["day"][0]] = sizes
        rebuild_leaderboards(now=variants[0])
    assert max(max(sizes.values()) for sizes in expected.values()) > 100

    problems: list[str] = []
    rebuilding: list[tuple[float, float]] = []
    reads: list[float] = []
    seen: set = set()
    done = threading.Event()

    def writer(first: int) -> None:
        with app.app_context():
            for index in range(REBUILDS_PER_WRITER):
                started = time.monotonic()
                rebuild_leaderboards(now=variants[(first + index) % 2])
                rebuilding.append((started, time.monotonic()))

    def sql_reader() -> None:
        with app.app_context(), db.engine.connect() as connection:
            while not done.is_set():
                rows = connection.execute(SNAPSHOT).all()
                connection.commit()
                reads.append(time.monotonic())
                headers = {(r.board, r.period): r for r in rows}
                if len(headers) != 8 or len({r.computed_at for r in rows}) != 1:
                    problems.append(f"headers of several rebuilds: {rows}")
                    continue
                sizes = expected[headers[("streamers", "day")].period_start]
                seen.add(headers[("streamers", "day")].period_start)
                for key, row in headers.items():
                    whole = (sizes[key], sizes[key], 0)
                    if (row.entries, row.last_rank, row.foreign_entries) != whole:
                        problems.append(f"{key}: {row} against {sizes[key]} entries")

    def http_reader() -> None:
        client = app.test_client()
        while not done.is_set():
            body = client.get("/api/v1/leaderboards/gifters?period=week").get_json()
            start = datetime.fromisoformat(body["period_start"])
            day_start = next(d for d in expected if timedelta(0) <= d - start < timedelta(days=7))
            size = min(100, expected[day_start][("gifters", "week")])
            if [item["rank"] for item in body["items"]] != list(range(1, size + 1)):
                problems.append(f"HTTP: {len(body['items'])} items, expected {size}")

    readers = [threading.Thread(target=r) for r in (sql_reader, sql_reader, http_reader)]
    writers = [threading.Thread(target=writer, args=(first,)) for first in (0, 1)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()

    assert problems == []
    assert len(rebuilding) == 2 * REBUILDS_PER_WRITER
    during = [t for t in reads if any(start <= t <= end for start, end in rebuilding)]
    assert len(during) >= 10, "the readers hardly overlapped the rebuilds"
    assert seen == set(expected)


def test_the_event_goes_out_once_the_new_boards_are_visible(api, app, main_room):
    [gifter] = funded(api, app, 1)
    gift_now(api, gifter, api.register(), 3)
    heard: list[tuple[str, object]] = []
    key = room_stream_key("main")
    with app.app_context():
        start = current_last_id(key)

    def listener() -> None:
        with app.app_context():
            last = start
            deadline = time.monotonic() + 30
            while not heard and time.monotonic() < deadline:
                batch = read_events(key, last, 1000, redis=get_redis())
                last = batch.last_id
                for event in batch:
                    if event.type == LEADERBOARD_UPDATED:
                        # What another connection sees the moment the event arrives.
                        with db.engine.connect() as connection:
                            stored = connection.scalar(
                                text("SELECT max(computed_at) FROM leaderboards")
                            )
                        heard.append((event.data["computed_at"], stored))

    thread = threading.Thread(target=listener)
    thread.start()
    with app.app_context():
        enqueue_rebuild()
    assert run_jobs(app) == 1
    thread.join()
    [(announced, stored)] = heard
    assert stored is not None and stored == datetime.fromisoformat(announced)
