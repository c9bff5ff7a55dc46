"""Stream schedules: the caller's own (create, list, delete) and upcoming occurrences."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.schedules.schemas import (
    CancellationSchema,
    CancelledOccurrenceSchema,
    NewScheduleSchema,
    SchedulePageSchema,
    ScheduleSchema,
    UpcomingPageSchema,
)
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user, current_user_id
from mylivelinks.models import Schedule
from mylivelinks.services.schedules import planning
from mylivelinks.services.schedules.recurrence import next_occurrence, zone

blp = Blueprint("schedules", __name__, url_prefix="", description="Stream schedules")


def schedule_view(schedule: Schedule, now: datetime) -> dict:
    """A schedule as its creator sees it, with its next occurrence."""
    once = schedule.kind == "once"
    return {
        "id": schedule.id,
        "kind": schedule.kind,
        "title": schedule.title,
        "duration_minutes": schedule.duration_minutes,
        "timezone": schedule.timezone,
        "local_time": schedule.local_time,
        "date": schedule.start_date if once else None,
        "days_of_week": None if once else schedule.days_of_week,
        "start_date": None if once else schedule.start_date,
        "end_date": None if once else schedule.end_date,
        "next_occurrence": next_occurrence(planning.rule_of(schedule), now),
        "created_at": schedule.created_at,
    }


def upcoming_view(item: planning.UpcomingOccurrence) -> dict:
    """An upcoming occurrence as the API shows it."""
    schedule = item.schedule
    return {
        "schedule_id": schedule.id,
        "kind": schedule.kind,
        "creator": item.creator,
        "title": schedule.title,
        "duration_minutes": schedule.duration_minutes,
        "starts_at": item.starts_at,
        "local_starts_at": item.starts_at.astimezone(zone(schedule.timezone)).isoformat(),
        "local_time": schedule.local_time,
        "timezone": schedule.timezone,
        "started": item.started_at is not None,
        "started_at": item.started_at,
        "stream_id": item.stream_id,
        "live": item.live,
        "cancelled": item.cancelled_at is not None,
    }


@blp.route("/me/schedules")
class MySchedules(MethodView):
    @auth_required(blp)
    @blp.arguments(NewScheduleSchema())
    @blp.response(201, ScheduleSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Too many schedules")
    @blp.alt_response(422, schema=ErrorSchema, description="Invalid, or no occurrence from now on")
    def post(self, data):
        """Schedule a stream once (`date`) or weekly (`days_of_week`) at a local time"""
        now = datetime.now(UTC)
        schedule = planning.create_schedule(current_user(), now=now, **data)
        return schedule_view(schedule, now)

    @auth_required(blp)
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, SchedulePageSchema)
    def get(self, args):
        """The caller's schedules, newest first (past ones too)"""
        page = planning.my_schedules(current_user_id(), **args)
        now = datetime.now(UTC)
        return {
            "items": [schedule_view(row.Schedule, now) for row in page.items],
            "next_cursor": page.next_cursor,
        }


@blp.route("/me/schedules/<uuid:schedule_id>")
class MySchedule(MethodView):
    @auth_required(blp)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="No such schedule of the caller")
    def delete(self, schedule_id):
        """Delete one of the caller's schedules"""
        planning.delete_schedule(current_user_id(), schedule_id)


@blp.route("/me/schedules/<uuid:schedule_id>/cancellations")
class Cancellations(MethodView):
    @auth_required(blp)
    @blp.arguments(CancellationSchema())
    @blp.response(201, CancelledOccurrenceSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such schedule of the caller")
    @blp.alt_response(409, schema=ErrorSchema, description="Already started")
    @blp.alt_response(422, schema=ErrorSchema, description="Not a future occurrence")
    def post(self, data, schedule_id):
        """Cancel one future occurrence of one of the caller's schedules"""
        kept = planning.cancel_occurrence(
            current_user_id(), schedule_id, data["starts_at"], datetime.now(UTC)
        )
        return {
            "schedule_id": kept.schedule_id,
            "starts_at": kept.occurs_at,
            "cancelled_at": kept.cancelled_at,
        }


@blp.route("/schedules/upcoming")
class Upcoming(MethodView):
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, UpcomingPageSchema)
    def get(self, args):
        """Next occurrences across creators, soonest first, for the next 14 days"""
        page = planning.upcoming(datetime.now(UTC), **args)
        return {
            "items": [upcoming_view(item) for item in page.items],
            "next_cursor": page.next_cursor,
        }
