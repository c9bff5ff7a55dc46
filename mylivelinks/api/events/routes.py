"""Server-Sent Events: a room's public stream and the caller's private stream."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.events.schemas import (
    StreamArgsSchema,
    StreamHeadersSchema,
    TicketRequestSchema,
    TicketSchema,
)
from mylivelinks.api.security import CHALLENGE, auth_required, current_user, profile_from_token
from mylivelinks.events import tickets
from mylivelinks.events.listeners import admit, drop_when_stuck
from mylivelinks.events.sse import event_stream
from mylivelinks.events.streams import room_stream_key, user_stream_key
from mylivelinks.extensions import db
from mylivelinks.models import Profile, Room
from mylivelinks.models.profiles import Role
from mylivelinks.services.errors import Unauthorized
from mylivelinks.services.rooms.state import get_room

blp = Blueprint("events", __name__, url_prefix="", description="Real-time events (SSE)")

STREAM_DESCRIPTION = (
    "A `text/event-stream`: first `retry:` and the `id:` the stream starts after, then one "
    "`id:`/`event:`/`data:` (JSON) block per event, and a `: keep-alive` comment after "
    "SSE_KEEPALIVE_SECONDS without events. The server ends the stream after SSE_MAX_SECONDS; "
    "reconnecting with `Last-Event-ID` delivers exactly the events missed meanwhile (as long "
    "as they are within the stream's kept history). Room streams carry `box:claimed`, "
    "`box:released`, `box:published`, `box:unpublished`, `stream:started`, `stream:ended`, "
    "`viewer:joined`, `viewer:left`, `viewer:count`, `chat:message`, `chat:deleted`, "
    "`gift:sent` (and `leaderboard:updated` on `main`); the caller's stream `publish:start`, "
    "`publish:stop`, `gift:received` and `notification`. Each event's `data` is described "
    "in the README's Event catalogue."
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
# The bearer header, or no header (then `ticket` or `access_token` in the query, or nothing
# at all for a logged-out visitor of a room).
BEARER_OR_QUERY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {}]


def _bearer_or_query_token(args: dict) -> str | None:
    auth = request.authorization
    if auth is not None and auth.type != "bearer":
        abort(401, message="Only bearer tokens are accepted.", headers=CHALLENGE)
    token = auth.token if auth is not None else None
    return token or args.get("access_token")


def _profile_or_401(token: str) -> Profile:
    try:
        return profile_from_token(token)
    except Unauthorized as exc:
        abort(401, message=exc.message, headers=CHALLENGE)


def _redeemed_or_401(ticket: str, scope: str) -> tickets.Ticket:
    try:
        return tickets.redeem(ticket, scope)
    except Unauthorized as exc:
        abort(401, message=exc.message, headers=CHALLENGE)


def _room_listener(args: dict, room: Room) -> tuple[uuid.UUID, str] | None:
    """Who listens to the room's events (their open boxes stay present), or None for a
    logged-out visitor; 401 for a bad token or ticket, 403 for a guest where guests may not
    watch."""
    if args.get("ticket"):
        spent = _redeemed_or_401(args["ticket"], tickets.room_scope(room.slug))
        caller_id, role = spent.profile_id, spent.role
    else:
        token = _bearer_or_query_token(args)
        if token is None:
            return None
        profile = _profile_or_401(token)
        caller_id, role = profile.id, profile.role
    if role == Role.GUEST and not room.anonymous_viewing:
        abort(403, message="Guests may not watch in this room.")
    return caller_id, room.slug


def _private_listener(args: dict) -> uuid.UUID:
    """The caller of the private stream, by ticket, bearer header or `access_token`; 401."""
    if args.get("ticket"):
        return _redeemed_or_401(args["ticket"], tickets.PRIVATE_STREAM).profile_id
    token = _bearer_or_query_token(args)
    if token is None:
        abort(401, message="An access token or an event ticket is required.", headers=CHALLENGE)
    return _profile_or_401(token).id


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


@blp.route("/rooms/<slug:slug>/events")
class RoomEvents(MethodView):
    @blp.arguments(StreamArgsSchema(), location="query")
    @blp.arguments(StreamHeadersSchema(), location="headers")
    @blp.response(200, **STREAM_BODY)
    @blp.alt_response(401, **NOT_AUTHENTICATED)
    @blp.alt_response(403, schema=ErrorSchema, description="A guest where guests may not watch")
    @blp.alt_response(404, schema=ErrorSchema, description="No such room")
    @blp.alt_response(503, **LISTENER_LIMIT)
    @blp.doc(security=BEARER_OR_QUERY)
    def get(self, args, headers, slug):
        """The public event stream of a room (Server-Sent Events)

        Viewers, boxes, chat, gifts, streams and the leaderboard of the room (SPEC §7), as
        public as the room and its chat history: a logged-out visitor listens without any
        token. A caller identified by an event ticket, the bearer header or `access_token`
        keeps the boxes of this room they have open alive while it is open, without
        `POST /heartbeat` calls; when it closes, the viewer timeout runs as usual. A guest
        token is refused (403) in a room without `anonymous_viewing`, like every guest call
        there.
        """
        room = db.session.scalar(select(Room).where(Room.slug == slug.lower()))
        if room is None:
            abort(404, message="No such room.")
        present_in = _room_listener(args, room)
        return _sse_response(room_stream_key(room.slug), args, headers, present_in=present_in)


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
        caller_id = _private_listener(args)
        return _sse_response(user_stream_key(caller_id), args, headers, present_in=None)


@blp.route("/events/tickets")
class EventTickets(MethodView):
    @auth_required(blp, allow_guests=True)
    @blp.arguments(TicketRequestSchema())
    @blp.response(201, TicketSchema)
    @blp.alt_response(403, schema=ErrorSchema, description="A guest where guests may not watch")
    @blp.alt_response(404, schema=ErrorSchema, description="No such room")
    def post(self, data):
        """A single-use URL that opens one event stream, for browsers (EventSource)

        EventSource cannot send the bearer header: open `url` instead, within
        EVENT_TICKET_TTL_SECONDS, and keep the access token out of URLs and logs. The
        ticket opens one connection: when the stream ends or breaks, EventSource's own
        reconnect gets 401 and closes; get a new ticket (refreshing the access token
        first if it expired) and open its `url` with `&last_event_id=` the last id
        received, which delivers exactly the events missed.
        """
        caller = current_user()
        if data["room"] is None:
            scope, url = tickets.PRIVATE_STREAM, url_for("events.MyEvents")
        else:
            room = get_room(data["room"])
            if caller.role == Role.GUEST and not room.anonymous_viewing:
                abort(403, message="Guests may not watch in this room.")
            scope, url = tickets.room_scope(room.slug), url_for("events.RoomEvents", slug=room.slug)
        issued = tickets.issue(caller.id, caller.role, scope)
        return {
            "ticket": issued.ticket,
            "url": f"{url}?{urlencode({'ticket': issued.ticket})}",
            "expires_at": issued.expires_at,
        }
