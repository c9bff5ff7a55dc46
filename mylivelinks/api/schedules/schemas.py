"""Schedule and upcoming-occurrence schemas."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.profiles.schemas import ProfileSummarySchema
from mylivelinks.api.schemas import page_schema, validate_time_zone
from mylivelinks.models.schedules import ScheduleKind

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DAYS_DESCRIPTION = "0 (Monday) to 6 (Sunday)"


class LocalTime(ma.fields.String):
    """A wall-clock time as `HH:MM` (24-hour)."""

    default_error_messages = {"invalid": "Must be a time as HH:MM (00:00 to 23:59)."}

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value, attr, data, **kwargs):
        match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise self.make_error("invalid")
        return time(int(match[1]), int(match[2]))


# Dates a schedule may name: far from the calendar's ends, where date arithmetic overflows.
EARLIEST_DATE = date(2000, 1, 1)
YEARS_AHEAD = 5
WINDOW_DESCRIPTION = f"from {EARLIEST_DATE} to {YEARS_AHEAD} years from today"


class ScheduleDate(ma.fields.Date):
    """A local date within the window schedules may name."""

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        today = datetime.now(UTC).date()
        latest = today.replace(year=today.year + YEARS_AHEAD, day=min(today.day, 28))
        if not EARLIEST_DATE <= day <= latest:
            raise ma.ValidationError(f"Must be a date {WINDOW_DESCRIPTION} ({latest}).")
        return day


class NewScheduleSchema(ma.Schema):
    """A schedule to create: `once` on `date`, or `weekly` on `days_of_week`."""

    kind = ma.fields.String(required=True, validate=validate.OneOf(tuple(ScheduleKind)))
    title = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=140))
    duration_minutes = ma.fields.Integer(
        strict=True, load_default=None, validate=validate.Range(min=1, max=1440)
    )
    timezone = ma.fields.String(
        load_default=None,
        validate=validate_time_zone,
        metadata={"description": "IANA time zone; default: the caller's profile time zone"},
    )
    local_time = LocalTime(
        required=True, metadata={"description": "HH:MM, 24-hour", "pattern": _HH_MM.pattern}
    )
    date = ScheduleDate(
        load_default=None,
        metadata={"description": f"once: the local date, {WINDOW_DESCRIPTION}"},
    )
    days_of_week = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=6)),
        load_default=None,
        validate=validate.Length(min=1, max=7),
        metadata={"description": f"weekly: {DAYS_DESCRIPTION}, each at most once"},
    )
    start_date = ScheduleDate(
        load_default=None,
        metadata={"description": f"weekly: first local date, default today; {WINDOW_DESCRIPTION}"},
    )
    end_date = ScheduleDate(
        load_default=None,
        metadata={"description": f"weekly: last local date, default none; {WINDOW_DESCRIPTION}"},
    )

    @ma.validates_schema
    def fields_of_kind(self, data, **kwargs):
        """`once` needs a date; `weekly` needs distinct days; neither takes the other's."""
        once = data.get("kind") == "once"
        errors: dict[str, list[str]] = {}
        days = data.get("days_of_week")
        if once:
            if data.get("date") is None:
                errors["date"] = ["Required for a once schedule."]
            for name in ("days_of_week", "start_date", "end_date"):
                if data.get(name) is not None:
                    errors[name] = ["Only for a weekly schedule."]
        elif data.get("kind") == "weekly":
            if days is None:
                errors["days_of_week"] = ["Required for a weekly schedule."]
            elif len(set(days)) != len(days):
                errors["days_of_week"] = ["Each day at most once."]
            if data.get("date") is not None:
                errors["date"] = ["Only for a once schedule; weekly ones take start_date."]
        if errors:
            raise ma.ValidationError(errors)


class ScheduleSchema(ma.Schema):
    """A schedule as its creator sees it."""

    id = ma.fields.UUID(dump_only=True)
    kind = ma.fields.String(dump_only=True)
    title = ma.fields.String(dump_only=True, allow_none=True)
    duration_minutes = ma.fields.Integer(dump_only=True, allow_none=True)
    timezone = ma.fields.String(dump_only=True)
    local_time = LocalTime(dump_only=True)
    date = ma.fields.Date(dump_only=True, allow_none=True, metadata={"description": "once"})
    days_of_week = ma.fields.List(
        ma.fields.Integer(), dump_only=True, allow_none=True, metadata={"description": "weekly"}
    )
    start_date = ma.fields.Date(dump_only=True, allow_none=True, metadata={"description": "weekly"})
    end_date = ma.fields.Date(dump_only=True, allow_none=True, metadata={"description": "weekly"})
    next_occurrence = ma.fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "UTC; null when over"}
    )
    created_at = ma.fields.DateTime(dump_only=True)


SchedulePageSchema = page_schema(ScheduleSchema, "SchedulePage")


class UpcomingSchema(ma.Schema):
    """One upcoming occurrence of a schedule."""

    schedule_id = ma.fields.UUID(dump_only=True)
    kind = ma.fields.String(dump_only=True)
    creator = ma.fields.Nested(ProfileSummarySchema, dump_only=True)
    title = ma.fields.String(dump_only=True, allow_none=True)
    duration_minutes = ma.fields.Integer(dump_only=True, allow_none=True)
    starts_at = ma.fields.DateTime(dump_only=True, metadata={"description": "UTC"})
    local_starts_at = ma.fields.String(
        dump_only=True,
        metadata={"description": "the same instant in the schedule's time zone, with offset"},
    )
    local_time = LocalTime(dump_only=True, metadata={"description": "as scheduled"})
    timezone = ma.fields.String(dump_only=True)
    started = ma.fields.Boolean(
        dump_only=True, metadata={"description": "the creator went live for this occurrence"}
    )
    started_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    stream_id = ma.fields.UUID(dump_only=True, allow_none=True)
    live = ma.fields.Boolean(dump_only=True, metadata={"description": "that stream is live now"})
    cancelled = ma.fields.Boolean(
        dump_only=True, metadata={"description": "the creator cancelled this occurrence"}
    )


class CancellationSchema(ma.Schema):
    """Which occurrence of a schedule to cancel."""

    starts_at = ma.fields.AwareDateTime(
        required=True, metadata={"description": "the occurrence's `starts_at`, as listed"}
    )


class CancelledOccurrenceSchema(ma.Schema):
    """A cancelled occurrence."""

    schedule_id = ma.fields.UUID(dump_only=True)
    starts_at = ma.fields.DateTime(dump_only=True)
    cancelled_at = ma.fields.DateTime(dump_only=True)


UpcomingPageSchema = page_schema(UpcomingSchema, "UpcomingPage")
