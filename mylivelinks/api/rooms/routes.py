"""Rooms: the boxes, going live, watching, heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.rooms.schemas import (
    GoLiveResultSchema,
    GoLiveSchema,
    HeartbeatResultSchema,
    HeartbeatSchema,
    LeaveResultSchema,
    RoomSchema,
    WatchResultSchema,
)
from mylivelinks.api.security import auth_required, current_user, current_user_id
from mylivelinks.models import Profile, Stream
from mylivelinks.providers import box_room, media_credentials, media_provider, viewer_identity
from mylivelinks.services.rooms import announcements, live, watching
from mylivelinks.services.rooms.state import (
    BoxState,
    get_room,
    likely_box,
    live_seconds,
    published_seconds,
    room_for_going_live,
    room_state,
)
from mylivelinks.transaction import end_read_only_transaction

blp = Blueprint("rooms", __name__, url_prefix="/rooms", description="Rooms, boxes and watching")

NO_ROOM = {"schema": ErrorSchema, "description": "No such room or box"}


def _now() -> datetime:
    return datetime.now(UTC)


def _stream_summary(stream: Stream | None, streamer: Profile | None, now: datetime):
    if stream is None:
        return None
    return {
        "id": stream.id,
        "title": stream.title,
        "status": stream.status,
        "started_at": stream.started_at,
        "streamer": streamer,
        "seconds_live_available": live_seconds(stream, now),
        "seconds_published": published_seconds(stream, now),
    }


def _box(state: BoxState, now: datetime) -> dict:
    return {
        "position": state.position,
        "stream": _stream_summary(state.stream, state.streamer, now),
        "viewer_count": state.viewer_count,
        "is_published": state.is_published,
    }


def _box_at(slug: str, position: int, now: datetime) -> dict:
    state = room_state(get_room(slug), now)
    return _box(next(b for b in state.boxes if b.position == position), now)


@blp.route("/<slug:slug>")
class RoomView(MethodView):
    @blp.response(200, RoomSchema)
    @blp.alt_response(404, **NO_ROOM)
    def get(self, slug):
        """A room with its boxes, occupants, viewer counts and publish state"""
        now = _now()
        state = room_state(get_room(slug), now)
        live_total = state.seconds_live_available
        return {
            "slug": state.room.slug,
            "name": state.room.name,
            "kind": state.room.kind,
            "boxes": [_box(box, now) for box in state.boxes],
            "queue_length": state.queue_length,
            "slow_mode_seconds": state.room.slow_mode_seconds,
            "anonymous_viewing": state.room.anonymous_viewing,
            "seconds_live_available": live_total,
            "seconds_published": state.seconds_published,
            "publishing_saving": (
                round(1 - state.seconds_published / live_total, 4) if live_total else None
            ),
        }


def _place_answer(slug: str, place: live.GoLiveResult, streamer: Profile, now: datetime) -> dict:
    if place.box is None:
        return {
            "stream": None,
            "box": None,
            "queued": True,
            "queue_position": place.queue_position,
            "credentials": None,
        }
    return {
        "stream": _stream_summary(place.stream, streamer, now),
        "box": _box_at(slug, place.box.position, now),
        "queued": False,
        "queue_position": None,
        "credentials": media_credentials(
            box_room(slug, place.box.position), str(streamer.id), "publisher"
        ),
    }


@blp.route("/<slug:slug>/live")
class GoLive(MethodView):
    @auth_required(blp)
    @blp.arguments(GoLiveSchema())
    @blp.response(201, GoLiveResultSchema)
    @blp.alt_response(404, **NO_ROOM)
    @blp.alt_response(409, schema=ErrorSchema, description="Already live, or the box is taken")
    def post(self, data, slug):
        """Go Live: take the requested or lowest free box, or wait in the room's queue"""
        streamer, now = current_user(), _now()
        if slug.lower() != streamer.username:
            get_room(slug)  # 404 before any vendor work
        expected = likely_box(slug.lower(), data["position"])
        # The vendor is called with no transaction open and before the room is locked:
        # no provider latency while seats are held.
        end_read_only_transaction()
        if expected is not None:
            media_provider().open_room(box_room(slug.lower(), expected))
        room = room_for_going_live(slug, streamer)
        result = live.go_live(
            room, streamer, title=data["title"], position=data["position"], now=now
        )
        if result.box is not None and result.box.position != expected:
            # Another streamer took that box meanwhile: this one's vendor room opens later.
            announcements.vendor_room_needed(room.slug, result.box.position)
        return _place_answer(room.slug, result, streamer, now)

    @auth_required(blp)
    @blp.response(200, GoLiveResultSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such room, or not live or queued")
    def get(self, slug):
        """Your place in the room: your box with fresh publisher credentials, or queue place

        What a client shows again after a reload; 404 when you are neither live nor queued here.
        """
        streamer, now = current_user(), _now()
        room = get_room(slug)
        return _place_answer(room.slug, live.place_of(room, streamer), streamer, now)

    @auth_required(blp)
    @blp.response(200, LeaveResultSchema)
    @blp.alt_response(404, **NO_ROOM)
    def delete(self, slug):
        """End your stream in the room (its box goes to the next in the queue) or leave the queue"""
        ended, _ = live.leave(get_room(slug, lock=True), current_user(), _now())
        return {"ended_stream_id": ended.id if ended else None, "left_queue": ended is None}


@blp.route("/<slug:slug>/boxes/<int:position>/viewers")
class BoxViewers(MethodView):
    @auth_required(blp, allow_guests=True)
    @blp.response(200, WatchResultSchema)
    @blp.alt_response(403, schema=ErrorSchema, description="Banned, or a guest not allowed here")
    @blp.alt_response(404, **NO_ROOM)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="Nobody is live in this box, or its vendor room holds as many participants "
        "as the video provider allows (Twilio: 50 per box)",
    )
    def post(self, slug, position):
        """Open a box as a viewer: subscriber credentials; keep it open with heartbeats"""
        viewer, now = current_user(), _now()
        room = get_room(slug)
        watching.open_box(room, position, viewer, now)
        credentials = media_credentials(
            box_room(room.slug, position), viewer_identity(viewer.id, position), "subscriber"
        )
        return {"credentials": credentials, "box": _box_at(room.slug, position, now)}

    @auth_required(blp, allow_guests=True)
    @blp.response(204)
    @blp.alt_response(404, **NO_ROOM)
    def delete(self, slug, position):
        """Close a box (closing a box you do not have open is fine)"""
        watching.close_box(get_room(slug), position, current_user(), _now())


@blp.route("/<slug:slug>/heartbeat")
class Heartbeat(MethodView):
    @auth_required(blp, load_profile=False, allow_guests=True)
    @blp.arguments(HeartbeatSchema())
    @blp.response(200, HeartbeatResultSchema)
    @blp.alt_response(404, **NO_ROOM)
    def post(self, data, slug):
        """Keep every open box of the caller, and the caller's own stream, alive"""
        refreshed, own = watching.heartbeat(
            slug.lower(), current_user_id(), data["positions"], _now()
        )
        return {
            "boxes": [{"position": p, "refreshed": ok} for p, ok in sorted(refreshed.items())],
            "streamer": own,
        }
