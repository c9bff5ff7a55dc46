"""Occurrences of schedules in UTC: pure date arithmetic with zoneinfo, no database.

A schedule's time is a wall-clock time in an IANA time zone, so its UTC instant moves
with daylight saving time (09:00 Europe/Berlin is 08:00 UTC in winter, 07:00 in summer).
Two local times need a rule, both those of zoneinfo with fold=0:
- a time that does not exist (skipped by the spring-forward change, e.g. 02:30 in Berlin
  on the last Sunday of March) is read with the offset before the change, i.e. shifted
  forward by the gap: 02:30 becomes 03:30 local (01:30 UTC);
- a time that happens twice (in the hour repeated in autumn) means the first of the two,
  still on summer time: 02:30 on the last Sunday of October in Berlin is 00:30 UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)
# No time zone is more than 14 hours from UTC, so a UTC instant is within a day of
# every local date it can fall on.
LOCAL_DATE_MARGIN = ONE_DAY


@cache
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo of an IANA name (cached)."""
    return ZoneInfo(name)


@dataclass(frozen=True)
class Recurrence:
    """When a schedule happens: on local dates from `start_date` to `end_date` (None: no end),
    on `days_of_week` (0 = Monday; None: every date in range, as for a one-off)."""

    timezone: str
    local_time: time
    start_date: date
    end_date: date | None
    days_of_week: frozenset[int] | None = None


def to_utc(day: date, local_time: time, timezone: str) -> datetime:
    """The UTC instant of a local date and time (nonexistent: shifted forward; ambiguous: first)."""
    local = datetime.combine(day, local_time, tzinfo=zone(timezone))  # fold=0
    return local.astimezone(UTC)


def local_date(instant: datetime, timezone: str) -> date:
    """The date in `timezone` at a UTC instant."""
    return instant.astimezone(zone(timezone)).date()


def occurrences(rule: Recurrence, start: datetime, end: datetime) -> Iterator[datetime]:
    """The occurrences from `start` to `end` (both included), in UTC, soonest first."""
    # Local time offsets change by less than a day, so the same local time on later dates
    # is always a later instant: walking the dates in order yields instants in order.
    first = max(rule.start_date, start.astimezone(UTC).date() - LOCAL_DATE_MARGIN)
    last = end.astimezone(UTC).date() + LOCAL_DATE_MARGIN
    if rule.end_date is not None:
        last = min(last, rule.end_date)
    day, previous = first, None
    while day <= last:
        if rule.days_of_week is None or day.weekday() in rule.days_of_week:
            instant = to_utc(day, rule.local_time, rule.timezone)
            if instant > end:
                return
            # A zone that skipped a whole date (Samoa, 2011) maps two dates to one instant.
            if instant >= start and instant != previous:
                yield instant
            previous = instant
        day += ONE_DAY


def next_occurrence(rule: Recurrence, after: datetime) -> datetime | None:
    """The first occurrence at or after `after`, or None when there is none."""
    # Any 7 consecutive dates of a weekly rule's range hold an occurrence.
    begin = max(after, datetime.combine(rule.start_date - ONE_DAY, time(), tzinfo=UTC))
    return next(occurrences(rule, after, begin + timedelta(days=9)), None)


def nearest_occurrence(rule: Recurrence, moment: datetime, window: timedelta) -> datetime | None:
    """The occurrence closest to `moment`, at most `window` before or after it, if any."""
    found = occurrences(rule, moment - window, moment + window)
    return min(found, key=lambda instant: abs(instant - moment), default=None)
