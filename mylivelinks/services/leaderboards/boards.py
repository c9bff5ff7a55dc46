"""Leaderboards: rebuilt from the gifts in SQL, read from the stored result.

Boards: `streamers` ranks profiles by the coins of gifts received, `gifters` by the coins
spent on gifts. Periods: the current day, week (from Monday) and month in the configured
time zone, each [start, end) with the start's midnight belonging to the new period, and
all time (no bounds, every gift). The periods are those around the rebuild's `now` (the
database clock unless given). A profile without a gift in the period is not on its board.

Ties: score descending, then whoever reached that score first (the earlier time of their
last gift in the period), then profile id. Every ranked profile gets a distinct rank, so
the order is the same on every rebuild of the same gifts.

A rebuild replaces every board and its header in one transaction (DELETE, then one
INSERT ... SELECT). PostgreSQL's MVCC makes the new rows visible all at once at the
commit, and each read of a board is one statement (one snapshot), so a reader sees the
old boards or the new ones, whole, and never waits for a rebuild. That is simpler than a
generation pointer (no old generations to collect, keys stay (board, period, rank)), and
the price, about one dead row per stored row per rebuild, is what autovacuum is for.
TRUNCATE would be cheaper but takes a lock that blocks readers for the whole rebuild.
Rebuilds take a transaction-level advisory lock, so two at once run one after the other.
After the commit, the job publishes the rebuild's `computed_at` (`publish_version`); the
API serves a per-process copy of each board while it is that version's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from redis.exceptions import RedisError
from sqlalchemy import and_, delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import CursorResult

from mylivelinks.events.streams import LEADERBOARD_UPDATED, publish_room_event
from mylivelinks.extensions import db, get_redis
from mylivelinks.models import Leaderboard, LeaderboardEntry, Profile
from mylivelinks.models.leaderboards import BOARDS, PERIODS, Board, Period
from mylivelinks.seed import MAIN_ROOM
from mylivelinks.services.errors import InvalidInput, NotFound
from mylivelinks.transaction import after_commit

TOP = 10  # a change here is announced (`leaderboard:updated`)
MAX_LIMIT = 100
# Where a change in a top 10 is announced (`leaderboard:updated`).
ANNOUNCE_ROOM = str(MAIN_ROOM["slug"])
BOARD_PERIODS = tuple((board, period) for board in BOARDS for period in PERIODS)
# Which column of `gifts` each board ranks.
_RANKED_COLUMN = {Board.STREAMERS: "recipient_id", Board.GIFTERS: "sender_id"}

# The last rebuild committed, for the readers' per-process copies (api/leaderboards): one
# sorted-set member whose score, microseconds since 1970, only ever grows (ZADD GT).
_VERSION_KEY = "leaderboards:version"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('mylivelinks:leaderboards'))")

# `now` in the time zone, truncated; the ends are the next period's starts.
_BOUNDS = text(
    """
    SELECT clock_timestamp() AS computed_at,
           date_trunc('day', local) AT TIME ZONE :tz AS day_start,
           (date_trunc('day', local) + interval '1 day') AT TIME ZONE :tz AS day_end,
           date_trunc('week', local) AT TIME ZONE :tz AS week_start,
           (date_trunc('week', local) + interval '1 week') AT TIME ZONE :tz AS week_end,
           date_trunc('month', local) AT TIME ZONE :tz AS month_start,
           (date_trunc('month', local) + interval '1 month') AT TIME ZONE :tz AS month_end
    FROM (SELECT coalesce(CAST(:now AS timestamptz), clock_timestamp()) AT TIME ZONE :tz
          AS local) AS t
    """
)

# One pass over the gifts per board: every period's score and the time its last gift
# reached it, with FILTER; then one row per (profile, period) with a score, ranked.
_TOTALS = """
    SELECT '{board}' AS board, {column} AS profile_id,
           sum(coins) FILTER (WHERE created_at >= :day_start AND created_at < :day_end)
               AS day_score,
           max(created_at) FILTER (WHERE created_at >= :day_start AND created_at < :day_end)
               AS day_reached,
           sum(coins) FILTER (WHERE created_at >= :week_start AND created_at < :week_end)
               AS week_score,
           max(created_at) FILTER (WHERE created_at >= :week_start AND created_at < :week_end)
               AS week_reached,
           sum(coins) FILTER (WHERE created_at >= :month_start AND created_at < :month_end)
               AS month_score,
           max(created_at) FILTER (WHERE created_at >= :month_start AND created_at < :month_end)
               AS month_reached,
           sum(coins) AS all_time_score,
           max(created_at) AS all_time_reached
    FROM gifts
    GROUP BY {column}
"""

_INSERT_ENTRIES = text(
    f"""
    INSERT INTO leaderboard_entries
        (board, period, rank, profile_id, score, period_start, period_end, computed_at)
    SELECT t.board, p.period,
           row_number() OVER (PARTITION BY t.board, p.period
                              ORDER BY p.score DESC, p.reached_at, t.profile_id),
           t.profile_id, p.score, p.period_start, p.period_end, :computed_at
    FROM ({_TOTALS.format(board=Board.STREAMERS.value, column=_RANKED_COLUMN[Board.STREAMERS])}
          UNION ALL
          {_TOTALS.format(board=Board.GIFTERS.value, column=_RANKED_COLUMN[Board.GIFTERS])}) AS t
    CROSS JOIN LATERAL (VALUES
        ('day', t.day_score, t.day_reached,
         CAST(:day_start AS timestamptz), CAST(:day_end AS timestamptz)),
        ('week', t.week_score, t.week_reached,
         CAST(:week_start AS timestamptz), CAST(:week_end AS timestamptz)),
        ('month', t.month_score, t.month_reached,
         CAST(:month_start AS timestamptz), CAST(:month_end AS timestamptz)),
        ('all_time', t.all_time_score, t.all_time_reached,
         CAST(NULL AS timestamptz), CAST(NULL AS timestamptz))
    ) AS p (period, score, reached_at, period_start, period_end)
    WHERE p.score IS NOT NULL
    """
)


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild stored: when, how many entries, and which boards' top 10 changed."""

    computed_at: datetime
    entries: int
    changed: list[tuple[Board, Period]] = field(default_factory=list)


def period_bounds(timezone: str, now: datetime | None = None) -> dict[str, Any]:
    """`computed_at` and each period's start and end (`day_start`, ...) around `now`."""
    row = db.session.execute(_BOUNDS, {"tz": timezone, "now": now}).mappings().one()
    return dict(row)


def rebuild(timezone: str, now: datetime | None = None) -> Rebuilt:
    """Replace every board and period with one computed from the gifts, as of `now`.

    `changed` lists the boards whose top 10 (profiles, order or scores) is not as before;
    once committed, the readers switch to the new boards and the main room hears of them.
    """
    db.session.execute(_LOCK)
    bounds = period_bounds(timezone, now)
    computed_at = bounds["computed_at"]
    before = _tops()
    db.session.execute(delete(LeaderboardEntry))
    entries = cast(CursorResult[Any], db.session.execute(_INSERT_ENTRIES, bounds)).rowcount
    headers = [
        {
            "board": board,
            "period": period,
            "period_start": bounds.get(f"{period}_start"),
            "period_end": bounds.get(f"{period}_end"),
            "computed_at": computed_at,
        }
        for board, period in BOARD_PERIODS
    ]
    upsert = insert(Leaderboard).values(headers)
    db.session.execute(
        upsert.on_conflict_do_update(
            index_elements=[Leaderboard.board, Leaderboard.period],
            set_={
                "period_start": upsert.excluded.period_start,
                "period_end": upsert.excluded.period_end,
                "computed_at": upsert.excluded.computed_at,
            },
        )
    )
    after = _tops()
    changed = [key for key in BOARD_PERIODS if before.get(key, []) != after.get(key, [])]
    db.session.flush()
    event = {
        "computed_at": computed_at.isoformat(),
        "changed": [{"board": board, "period": period} for board, period in changed],
    }
    after_commit(lambda: _announce(computed_at, event))
    return Rebuilt(computed_at=computed_at, entries=entries, changed=changed)


def _announce(computed_at: datetime, event: dict[str, Any]) -> None:
    # The readers' copies first: clients told of the change then fetch the new boards.
    publish_version(computed_at)
    if event["changed"]:
        publish_room_event(ANNOUNCE_ROOM, LEADERBOARD_UPDATED, event)


def _tops() -> dict[tuple[str, str], list[tuple[uuid.UUID, int]]]:
    rows = db.session.execute(
        select(
            LeaderboardEntry.board,
            LeaderboardEntry.period,
            LeaderboardEntry.profile_id,
            LeaderboardEntry.score,
        )
        .where(LeaderboardEntry.rank <= TOP)
        .order_by(LeaderboardEntry.board, LeaderboardEntry.period, LeaderboardEntry.rank)
    )
    tops: dict[tuple[str, str], list[tuple[uuid.UUID, int]]] = {}
    for board, period, profile_id, score in rows:
        tops.setdefault((board, period), []).append((profile_id, score))
    return tops


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def publish_version(computed_at: datetime) -> None:
    """Tell the readers which rebuild is current; call it after the rebuild's commit.

    Never goes back to an older rebuild, should two rebuilds' hooks run out of order.
    """
    get_redis().zadd(_VERSION_KEY, {"current": _micros(computed_at)}, gt=True)


def is_current(computed_at: datetime) -> bool:
    """Whether `computed_at` is the last rebuild published (False when none is known)."""
    try:
        score = get_redis().zscore(_VERSION_KEY, "current")
    except RedisError:
        return False  # readers then read the database: slower, still right
    return score is not None and int(score) == _micros(computed_at)


def _check(board: str, period: str) -> None:
    if board not in BOARDS:
        raise NotFound(f"No leaderboard {board!r}; boards are {', '.join(BOARDS)}.")
    if period not in PERIODS:
        raise InvalidInput(f"Periods are {', '.join(PERIODS)}.", field="period")


def read_board(board: str, period: str, limit: int = MAX_LIMIT) -> dict[str, Any]:
    """The stored top `limit` of a board and period, with profile summaries, in one query.

    Before the first rebuild: no items and null bounds and `computed_at`.
    """
    _check(board, period)
    entry = LeaderboardEntry
    rows = db.session.execute(
        select(
            Leaderboard.period_start,
            Leaderboard.period_end,
            Leaderboard.computed_at,
            entry.rank,
            entry.score,
            Profile.id,
            Profile.username,
            Profile.display_name,
            Profile.avatar_url,
        )
        .select_from(Leaderboard)
        .outerjoin(
            entry,
            and_(
                entry.board == Leaderboard.board,
                entry.period == Leaderboard.period,
                entry.rank <= limit,
            ),
        )
        .outerjoin(Profile, Profile.id == entry.profile_id)
        .where(Leaderboard.board == board, Leaderboard.period == period)
        .order_by(entry.rank)
    ).all()
    header = rows[0] if rows else None
    return {
        "board": board,
        "period": period,
        "period_start": header.period_start if header else None,
        "period_end": header.period_end if header else None,
        "computed_at": header.computed_at if header else None,
        "items": [
            {
                "rank": row.rank,
                "score": row.score,
                "profile": {
                    "id": row.id,
                    "username": row.username,
                    "display_name": row.display_name,
                    "avatar_url": row.avatar_url,
                },
            }
            for row in rows
            if row.rank is not None
        ],
    }


def profile_ranks(profile_id: uuid.UUID) -> dict[str, dict[str, int | None]]:
    """A profile's current rank on every board and period (None where not ranked)."""
    ranks: dict[str, dict[str, int | None]] = {board: dict.fromkeys(PERIODS) for board in BOARDS}
    rows = db.session.execute(
        select(LeaderboardEntry.board, LeaderboardEntry.period, LeaderboardEntry.rank).where(
            LeaderboardEntry.profile_id == profile_id
        )
    )
    for board, period, rank in rows:
        ranks[board][period] = rank
    return ranks
