"""Server-Sent Events: a room's public stream and the caller's private stream."""

from __future__ import annotations

import uuid

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.security import CHALLENGE, profile_from_token
from mylivelinks.events.listeners import admit, drop_when_stuck
from mylivelinks.events.sse import event_stream
from mylivelinks.events.streams import is_stream_id, room_stream_key, user_stream_key
from mylivelinks.extensions import db
from mylivelinks.models import Profile, Room
from mylivelinks.services.errors import Unauthorized

blp = Blueprint("events", __name__, url_prefix="", description="Real-time events (SSE)")

STREAM_DESCRIPTION = (
    "A `text/event-stream`: first `retry:` and the `id:` the stream starts after, then one "
    "`id:`/`event:`/`data:` (JSON) block per event, and a `: keep-alive` comment after "
    "SSE_KEEPALIVE_SECONDS without events. The server ends the stream after SSE_MAX_SECONDS; "
    "reconnecting with `Last-Event-ID` delivers exactly the events missed meanwhile (as long "
    "as they are within the stream's kept history)."
)
STREAM_BODY = {
    "schema": {"type": "string"},
    "content_type": "text/event-stream",
    "description": STREAM_DESCRIPTION,
    "example": (
        "retry: 3000\nid: 1700000000000-0\n\n"
        'id: 1700000000001-0\nevent: viewer:count\ndata: {"count":3}\n\n'
        ": keep-alive\n\n"
    ),
}
NOT_AUTHENTICATED = {"schema": ErrorSchema, "description": "Missing or invalid access token"}
LISTENER_LIMIT = {
    "schema": ErrorSchema,
    "description": "This process holds SSE_MAX_LISTENERS streams: retry after Retry-After",
}
# The bearer header, or no header at all (then `access_token` in the query).
BEARER_OR_QUERY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {}]


def _validate_stream_id(value: str) -> None:
    if not is_stream_id(value):
        raise ma.ValidationError("Not an event id.")


class StreamArgsSchema(ma.Schema):
    """Query parameters of an event stream."""

    access_token = ma.fields.String(
        metadata={"description": "Access token, for clients that cannot set headers (EventSource)"}
    )
    last_event_id = ma.fields.String(
        validate=_validate_stream_id,
        metadata={"description": "Resume after this event id (the header wins when both are set)"},
    )


class StreamHeadersSchema(ma.Schema):
    """Headers of an event stream."""

    last_event_id = ma.fields.String(
        data_key="Last-Event-ID",
        validate=_validate_stream_id,
        metadata={"description": "Resume after this event id (sent by EventSource on reconnect)"},
    )


def _caller(args: dict) -> Profile:
    """The profile of the bearer header or the `access_token` parameter, else 401."""
    auth = request.authorization
    token = auth.token if auth is not None and auth.type == "bearer" else None
    token = token or args.get("access_token")
    if not token:
        abort(401, message="An access token is required.", headers=CHALLENGE)
    try:
        return profile_from_token(token)
    except Unauthorized as exc:
        abort(401, message=exc.message, headers=CHALLENGE)


def _sse_response(
    stream_key: str, args: dict, headers: dict, *, present_in: tuple[uuid.UUID, str] | None
) -> Response:
    """Stream `stream_key` as SSE, after giving the database connection back; 503 when this
    process holds as many streams as it may."""
    db.session.remove()
    release = admit()
    try:
        last_event_id = headers.get("last_event_id") or args.get("last_event_id")
        stream = event_stream(stream_key, last_event_id, present_in=present_in)
        response = Response(stream, mimetype="text/event-stream")
    except BaseException:
        release()
        raise
    response.call_on_close(release)  # the server closes it however the stream ends
    drop_when_stuck(request.environ)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@blp.route("/rooms/<string:slug>/events")
class RoomEvents(MethodView):
    @blp.arguments(StreamArgsSchema(), location="query")
    @blp.arguments(StreamHeadersSchema(), location="headers")
    @blp.response(200, **STREAM_BODY)
    @blp.alt_response(401, **NOT_AUTHENTICATED)
    @blp.alt_response(404, schema=ErrorSchema, description="No such room")
    @blp.alt_response(503, **LISTENER_LIMIT)
    @blp.doc(security=BEARER_OR_QUERY)
    def get(self, args, headers, slug):
        """The public event stream of a room (Server-Sent Events)

        Viewers, boxes, chat, gifts, streams and the leaderboard of the room (SPEC §7).
        While it is open, the boxes of this room the caller has open stay alive without
        `POST /heartbeat` calls; when it closes, the viewer timeout runs as usual.
        """
        caller = _caller(args)
        room_slug = db.session.scalar(select(Room.slug).where(Room.slug == slug))
        if room_slug is None:
            abort(404, message="No such room.")
        present_in = (caller.id, room_slug)
        return _sse_response(room_stream_key(slug), args, headers, present_in=present_in)


@blp.route("/me/events")
class MyEvents(MethodView):
    @blp.arguments(StreamArgsSchema(), location="query")
    @blp.arguments(StreamHeadersSchema(), location="headers")
    @blp.response(200, **STREAM_BODY)
    @blp.alt_response(401, **NOT_AUTHENTICATED)
    @blp.alt_response(503, **LISTENER_LIMIT)
    @blp.doc(security=BEARER_OR_QUERY)
    def get(self, args, headers):
        """The caller's private event stream (Server-Sent Events)

        `publish:start` / `publish:stop`, `gift:received`, `coins:credited`, `notification`.
        """
        caller = _caller(args)
        return _sse_response(user_stream_key(caller.id), args, headers, present_in=None)
