"""Creators' stream schedules, the upcoming occurrences across creators, and kept occurrences.

Occurrences are not stored: they are computed per schedule with zoneinfo (see
`schedule_times`) and merged soonest first. Only an occurrence the creator kept (went live
within SCHEDULE_START_WINDOW_MINUTES of it) is stored, in `schedule_occurrences`.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.types import NullType

from mylivelinks.extensions import db
from mylivelinks.models import Profile, Schedule, ScheduleOccurrence, Stream
from mylivelinks.models.streams import StreamStatus
from mylivelinks.pagination import Page, decode_cursor, encode_cursor, keyset_page
from mylivelinks.services.errors import Conflict, InvalidInput, NotFound
from mylivelinks.services.schedules.recurrence import (
    ONE_DAY,
    Recurrence,
    local_date,
    nearest_occurrence,
    next_occurrence,
    occurrences,
)

# How far ahead `upcoming` looks.
UPCOMING_DAYS = 14
# Schedules not over yet that one creator may have.
MAX_ACTIVE_SCHEDULES = 50
_RULE_COLUMNS = (
    Schedule.id,
    Schedule.timezone,
    Schedule.local_time,
    Schedule.start_date,
    Schedule.end_date,
    # psycopg already returns a list of ints; skipping SQLAlchemy's per-item processing
    # of the array makes reading thousands of schedules several times faster.
    type_coerce(Schedule.days_of_week, NullType()).label("days_of_week"),
)


@dataclass(frozen=True)
class UpcomingOccurrence:
    """One occurrence in `upcoming`; `stream_id` is set once the creator went live for it."""

    schedule: Schedule
    creator: Profile
    starts_at: datetime
    started_at: datetime | None
    stream_id: uuid.UUID | None
    live: bool
    cancelled_at: datetime | None = None


def rule_of(schedule: Any) -> Recurrence:
    """The recurrence of a schedule (a model or a row of its rule columns)."""
    days = schedule.days_of_week
    return Recurrence(
        timezone=schedule.timezone,
        local_time=schedule.local_time,
        start_date=schedule.start_date,
        end_date=schedule.end_date,
        days_of_week=frozenset(days) if days is not None else None,
    )


def start_window() -> timedelta:
    """How close to an occurrence going live counts as keeping it (either side)."""
    return timedelta(minutes=current_app.config["SCHEDULE_START_WINDOW_MINUTES"])


def _not_over(since: date):
    # Local dates differ from UTC ones by less than a day.
    return or_(Schedule.end_date.is_(None), Schedule.end_date >= since - ONE_DAY)


def create_schedule(
    creator: Profile,
    *,
    kind: str,
    local_time: time,
    now: datetime,
    timezone: str | None = None,
    date: date | None = None,
    days_of_week: list[int] | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    title: str | None = None,
    duration_minutes: int | None = None,
) -> Schedule:
    """Add a schedule (`timezone` defaults to the creator's); it must occur again after `now`."""
    timezone = timezone or creator.timezone
    if kind == "once":
        start_date = end_date = date
        days = None
    else:
        start_date = start_date or local_date(now, timezone)
        if end_date is not None and end_date < start_date:
            raise InvalidInput("The end date is before the start date.", field="end_date")
        days = sorted(set(days_of_week or ()))
    schedule = Schedule(
        creator_id=creator.id,
        kind=kind,
        title=title,
        duration_minutes=duration_minutes,
        timezone=timezone,
        local_time=local_time,
        start_date=start_date,
        end_date=end_date,
        days_of_week=days,
    )
    if next_occurrence(rule_of(schedule), now) is None:
        if kind == "once":
            raise InvalidInput("The scheduled time is in the past.", field="date")
        raise InvalidInput("The schedule has no occurrence from now on.", field="end_date")
    # The creator's row lock makes concurrent creates count one after the other.
    db.session.execute(
        select(Profile.id).where(Profile.id == creator.id).with_for_update(key_share=True)
    )
    active = db.session.execute(
        select(func.count())
        .select_from(Schedule)
        .where(Schedule.creator_id == creator.id, _not_over(now.date()))
    ).scalar_one()
    if active >= MAX_ACTIVE_SCHEDULES:
        raise Conflict(f"You already have {MAX_ACTIVE_SCHEDULES} schedules; delete one first.")
    db.session.add(schedule)
    db.session.flush()
    return schedule


def my_schedules(creator_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    """The creator's schedules, newest first; rows of (Schedule,)."""
    return keyset_page(
        select(Schedule).where(Schedule.creator_id == creator_id),
        [Schedule.created_at, Schedule.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.Schedule.created_at, row.Schedule.id),
    )


def delete_schedule(creator_id: uuid.UUID, schedule_id: uuid.UUID) -> None:
    """Delete one of the creator's schedules; anyone else's is NotFound."""
    deleted = db.session.execute(
        delete(Schedule)
        .where(Schedule.id == schedule_id, Schedule.creator_id == creator_id)
        .returning(Schedule.id)
    ).scalar()
    if deleted is None:
        raise NotFound("No such schedule.")


def _keyed(row: Any, start: datetime, end: datetime) -> Iterator[tuple[datetime, uuid.UUID]]:
    for instant in occurrences(rule_of(row), start, end):
        yield instant, row.id


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    starts_at, schedule_id = decode_cursor(cursor, (datetime, uuid.UUID))
    if starts_at.tzinfo is None:
        raise InvalidInput("The cursor is not valid.", field="cursor")
    return starts_at, schedule_id


def upcoming(
    now: datetime,
    *,
    limit: int,
    cursor: str | None,
    where: Sequence[Any] = (),
    pending_only: bool = False,
) -> Page:
    """Occurrences across creators from `now` (less the start window) to UPCOMING_DAYS ahead,
    soonest first; items are `UpcomingOccurrence`s, the cursor is (starts_at, schedule_id).

    `where` narrows the schedules (conditions on Schedule and the creator's Profile);
    `pending_only` leaves out occurrences already started.
    """
    after = _after(cursor)
    start = now - start_window()
    if after is not None:
        start = max(start, after[0])
    end = now + timedelta(days=UPCOMING_DAYS)
    stmt = select(*_RULE_COLUMNS).where(
        Schedule.start_date <= end.date() + ONE_DAY, _not_over(start.date())
    )
    if where:
        stmt = stmt.join(Profile, Profile.id == Schedule.creator_id).where(*where)
    rows = db.session.execute(stmt).all()
    # Each schedule's occurrences come in order, so a lazy merge computes only about
    # one occurrence per schedule beyond the page.
    merged: Iterator[tuple[datetime, uuid.UUID]] = heapq.merge(
        *(_keyed(row, start, end) for row in rows)
    )
    if after is not None:
        merged = (key for key in merged if key > after)
    if pending_only:
        started = {
            tuple(row)
            for row in db.session.execute(
                select(ScheduleOccurrence.occurs_at, ScheduleOccurrence.schedule_id).where(
                    ScheduleOccurrence.occurs_at.between(start, end)
                )
            )
        }
        merged = (key for key in merged if key not in started)
    keys = list(islice(merged, limit + 1))
    next_cursor = encode_cursor(keys[limit - 1]) if len(keys) > limit else None
    return Page(items=_occurrences_of(keys[:limit]), next_cursor=next_cursor)


def _occurrences_of(keys: list[tuple[datetime, uuid.UUID]]) -> list[UpcomingOccurrence]:
    if not keys:
        return []
    ids = {schedule_id for _, schedule_id in keys}
    found = {
        row.Schedule.id: row
        for row in db.session.execute(
            select(Schedule, Profile)
            .join(Profile, Profile.id == Schedule.creator_id)
            .where(Schedule.id.in_(ids))
        )
    }
    started = {
        (kept.schedule_id, kept.occurs_at): kept
        for kept in db.session.scalars(
            select(ScheduleOccurrence).where(
                tuple_(ScheduleOccurrence.schedule_id, ScheduleOccurrence.occurs_at).in_(
                    [(schedule_id, instant) for instant, schedule_id in keys]
                )
            )
        )
    }
    stream_ids = {kept.stream_id for kept in started.values() if kept.stream_id}
    live = set(
        db.session.scalars(
            select(Stream.id).where(Stream.id.in_(stream_ids), Stream.status == StreamStatus.LIVE)
        )
        if stream_ids
        else ()
    )
    items = []
    for instant, schedule_id in keys:
        row = found.get(schedule_id)
        if row is None:
            continue  # deleted since this page was computed
        kept = started.get((schedule_id, instant))
        items.append(
            UpcomingOccurrence(
                schedule=row.Schedule,
                creator=row.Profile,
                starts_at=instant,
                started_at=kept.started_at if kept else None,
                cancelled_at=kept.cancelled_at if kept else None,
                stream_id=kept.stream_id if kept else None,
                live=bool(kept and kept.stream_id in live),
            )
        )
    return items


def cancel_occurrence(
    creator_id: uuid.UUID, schedule_id: uuid.UUID, starts_at: datetime, now: datetime
) -> ScheduleOccurrence:
    """Cancel one future occurrence of the creator's schedule (again: the same answer).

    NotFound for anyone else's schedule; InvalidInput when `starts_at` is not one of its
    occurrences or is past; Conflict when the creator already went live for it.
    """
    schedule = db.session.scalar(
        select(Schedule).where(Schedule.id == schedule_id, Schedule.creator_id == creator_id)
    )
    if schedule is None:
        raise NotFound("No such schedule.")
    if starts_at <= now:
        raise InvalidInput("Only a future occurrence can be cancelled.", field="starts_at")
    if starts_at not in occurrences(rule_of(schedule), starts_at, starts_at):
        raise InvalidInput("The schedule has no occurrence at that time.", field="starts_at")
    db.session.execute(
        insert(ScheduleOccurrence)
        .values(schedule_id=schedule_id, occurs_at=starts_at, cancelled_at=now)
        .on_conflict_do_nothing()
    )
    kept = db.session.get_one(ScheduleOccurrence, (schedule_id, starts_at), populate_existing=True)
    if kept.started_at is not None:
        raise Conflict("The creator already went live for this occurrence.", field="starts_at")
    return kept


def mark_schedule_started(stream: Stream, now: datetime) -> list[tuple[uuid.UUID, datetime]]:
    """Record, per schedule of the streamer, the occurrence within the start window of `now`
    as kept by `stream` (once: a later stream keeps the first); returns those newly marked."""
    window = start_window()
    rows = db.session.execute(
        select(*_RULE_COLUMNS).where(
            Schedule.creator_id == stream.streamer_id,
            Schedule.start_date <= (now + window).date() + ONE_DAY,
            _not_over((now - window).date()),
        )
    ).all()
    marked = []
    for row in rows:
        occurs_at = nearest_occurrence(rule_of(row), now, window)
        if occurs_at is None:
            continue
        inserted = db.session.execute(
            insert(ScheduleOccurrence)
            .values(schedule_id=row.id, occurs_at=occurs_at, stream_id=stream.id, started_at=now)
            .on_conflict_do_nothing()
            .returning(ScheduleOccurrence.schedule_id)
        ).scalar()
        if inserted is not None:
            marked.append((row.id, occurs_at))
    return marked
