"""Event stream parameters, and event tickets."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.events.streams import is_stream_id


def _validate_stream_id(value: str) -> None:
    if not is_stream_id(value):
        raise ma.ValidationError("Not an event id.")


class StreamArgsSchema(ma.Schema):
    """Query parameters of an event stream."""

    ticket = ma.fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A single-use event ticket (`POST /events/tickets`)"},
    )
    access_token = ma.fields.String(
        metadata={
            "description": "Access token, for clients that can neither set headers nor use "
            "tickets (it ends up in logs: prefer a ticket)"
        }
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


class TicketRequestSchema(ma.Schema):
    """Which event stream the ticket opens."""

    room = ma.fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "the slug of the room whose events it opens; "
            "omitted: the caller's private stream (`/me/events`)"
        },
    )


class TicketSchema(ma.Schema):
    """A single-use URL that opens one event stream."""

    ticket = ma.fields.String(dump_only=True)
    url = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "path of the event stream with the ticket, for `new EventSource(url)` "
            "(append `&last_event_id=` to resume)"
        },
    )
    expires_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "connect before this; one connection only"}
    )
