"""Stream schedules (once or weekly, at a local time in a time zone) and started occurrences."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Time,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class ScheduleKind(StrEnum):
    """A schedule for one date, or for days of every week."""

    ONCE = "once"
    WEEKLY = "weekly"


class Schedule(Base):
    """A creator's planned stream: `once` on a date, or `weekly` on days of the week.

    Dates and the time are local to `timezone`. `end_date` is the last local date with an
    occurrence: the date itself for `once`, optional (open-ended) for `weekly`.
    `days_of_week` (weekly only) holds 0 (Monday) to 6 (Sunday).
    """

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("kind IN ('once', 'weekly')", name="kind"),
        CheckConstraint("duration_minutes BETWEEN 1 AND 1440", name="duration_minutes"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="end_after_start"),
        CheckConstraint(
            "kind = 'weekly' OR (end_date = start_date AND days_of_week IS NULL)",
            name="once_shape",
        ),
        CheckConstraint(
            "kind = 'once' OR (cardinality(days_of_week) BETWEEN 1 AND 7"
            " AND days_of_week <@ ARRAY[0, 1, 2, 3, 4, 5, 6]::smallint[])",
            name="weekly_days",
        ),
        Index("ix_schedules_creator_recent", "creator_id", "created_at", "id"),
        # `upcoming` reads only the schedules not over yet (end_date NULL or recent).
        Index("ix_schedules_end_date", "end_date"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    creator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    kind: Mapped[ScheduleKind] = mapped_column(StrEnumText(ScheduleKind, 8))
    title: Mapped[str | None] = mapped_column(String(140))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    local_time: Mapped[time] = mapped_column(Time)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    days_of_week: Mapped[list[int] | None] = mapped_column(ARRAY(SmallInteger))
    created_at: Mapped[datetime] = created_at_column()


class ScheduleOccurrence(Base):
    """An occurrence of a schedule that the creator kept by going live near its time, or
    cancelled beforehand (one or the other, for good)."""

    __tablename__ = "schedule_occurrences"
    __table_args__ = (
        CheckConstraint(
            "(started_at IS NULL) <> (cancelled_at IS NULL)", name="started_or_cancelled"
        ),
    )

    schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    occurs_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    stream_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("streams.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
