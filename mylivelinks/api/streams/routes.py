"""Streams: one with its stats, a profile's, search (status, name or title, place), top gifters."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.streams.schemas import (
    StreamDetailSchema,
    StreamLeaderboardSchema,
    StreamPageSchema,
    StreamSearchArgsSchema,
)
from mylivelinks.models.streams import StreamStatus
from mylivelinks.services.accounts.users import get_by_username
from mylivelinks.services.gifts.catalog import stream_leaderboard
from mylivelinks.services.streams import search
from mylivelinks.services.streams.stats import stream_stats

blp = Blueprint("streams", __name__, url_prefix="/streams", description="Streams")
profile_streams_blp = Blueprint(
    "profile_streams", __name__, url_prefix="/profiles", description="A profile's streams"
)
NOT_FOUND = {"schema": ErrorSchema, "description": "No such stream"}


def stream_view(row, *, distance_km: float | None = None) -> dict:
    """A (stream, streamer, room, position) row as the API shows it."""
    stream = row.Stream
    return {
        "id": stream.id,
        "status": stream.status,
        "title": stream.title,
        "streamer": row.Profile,
        "room": row.room,
        "position": row.position,
        "started_at": stream.started_at,
        "ended_at": stream.ended_at,
        "ended_reason": stream.ended_reason,
        "distance_km": distance_km,
    }


def scheduled_view(occurrence, distance_km: float | None) -> dict:
    """A scheduled occurrence (not started yet) as a stream of the search."""
    return {
        "id": None,
        "status": StreamStatus.SCHEDULED,
        "title": occurrence.schedule.title,
        "streamer": occurrence.creator,
        "scheduled_for": occurrence.starts_at,
        "schedule_id": occurrence.schedule.id,
        "room": None,
        "position": None,
        "started_at": None,
        "ended_at": None,
        "ended_reason": None,
        "distance_km": distance_km,
    }


def _page(page) -> dict:
    items = [stream_view(row, distance_km=getattr(row, "distance_km", None)) for row in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


@blp.route("")
class Streams(MethodView):
    @blp.arguments(StreamSearchArgsSchema(), location="query")
    @blp.response(200, StreamPageSchema)
    def get(self, args):
        """Search streams by status, username prefix or title, and place

        Live and ended streams come nearest first with a place, newest first without;
        scheduled ones are the schedules' occurrences not started yet, soonest first.
        """
        near = None
        if args["lat"] is not None:
            near = search.Near(args["lat"], args["lng"], args["radius_km"])
        if args["status"] == StreamStatus.SCHEDULED:
            page = search.scheduled(
                datetime.now(UTC),
                q=args["q"],
                near=near,
                limit=args["limit"],
                cursor=args["cursor"],
            )
            items = [scheduled_view(occurrence, km) for occurrence, km in page.items]
            return {"items": items, "next_cursor": page.next_cursor}
        page = search.search(
            status=StreamStatus(args["status"]),
            q=args["q"],
            near=near,
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return _page(page)


@blp.route("/<uuid:stream_id>")
class StreamById(MethodView):
    @blp.response(200, StreamDetailSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, stream_id):
        """A stream with its stats (live: so far; ended: as saved when it ended)"""
        row = search.get_stream(stream_id)
        return {**stream_view(row), "stats": stream_stats(row.Stream, datetime.now(UTC))}


@blp.route("/<uuid:stream_id>/leaderboard")
class StreamLeaderboard(MethodView):
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, StreamLeaderboardSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, args, stream_id):
        """The top gifters of a stream, most coins first, paginated"""
        page = stream_leaderboard(stream_id, limit=args["limit"], cursor=args["cursor"])
        return {
            "items": [
                {"rank": place.rank, "coins": place.coins, "profile": place.profile}
                for place in page.items
            ],
            "next_cursor": page.next_cursor,
        }


@profile_streams_blp.route("/<username:username>/streams")
class ProfileStreams(MethodView):
    @profile_streams_blp.arguments(PageArgsSchema, location="query")
    @profile_streams_blp.response(200, StreamPageSchema)
    @profile_streams_blp.alt_response(404, schema=ErrorSchema, description="No such profile")
    def get(self, args, username):
        """The profile's streams, current and past, newest first"""
        return _page(search.profile_streams(get_by_username(username), **args))
