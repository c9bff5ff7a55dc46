"""Room, box, Go Live, viewer and heartbeat schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.profiles.schemas import ProfileSummarySchema
from mylivelinks.api.schemas import Int32


class CredentialsSchema(ma.Schema):
    """What a client needs to join the provider room."""

    provider = ma.fields.String(dump_only=True)
    url = ma.fields.String(dump_only=True)
    token = ma.fields.String(dump_only=True)
    room = ma.fields.String(dump_only=True)
    identity = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "who the vendor knows the client as: the streamer's profile id, or "
            "for a viewer `<profile id>.<box>`, one identity per box connection"
        },
    )
    role = ma.fields.String(dump_only=True, metadata={"description": "publisher or subscriber"})
    expires_at = ma.fields.DateTime(dump_only=True)
    uid = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Agora only: the numeric uid to join channel `room` with (the "
            "token is valid for that uid alone; it is also in `url`, `agora:<app id>?uid=`). "
            "Null for other providers"
        },
    )


class StreamSummarySchema(ma.Schema):
    """A live stream in a box."""

    id = ma.fields.UUID(dump_only=True)
    title = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.String(dump_only=True)
    started_at = ma.fields.DateTime(dump_only=True)
    streamer = ma.fields.Nested(ProfileSummarySchema, dump_only=True)
    seconds_live_available = ma.fields.Integer(dump_only=True)
    seconds_published = ma.fields.Integer(dump_only=True)


class BoxSchema(ma.Schema):
    """One box of a room."""

    position = ma.fields.Integer(dump_only=True)
    stream = ma.fields.Nested(StreamSummarySchema, dump_only=True, allow_none=True)
    viewer_count = ma.fields.Integer(dump_only=True)
    is_published = ma.fields.Boolean(
        dump_only=True, metadata={"description": "derived: at least one active viewer"}
    )


class RoomSchema(ma.Schema):
    """A room with its boxes, queue and the saving of demand-based publishing."""

    slug = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"description": "group or solo"})
    boxes = ma.fields.List(ma.fields.Nested(BoxSchema), dump_only=True)
    queue_length = ma.fields.Integer(dump_only=True)
    slow_mode_seconds = ma.fields.Integer(
        dump_only=True, metadata={"description": "seconds between one user's messages; 0 is off"}
    )
    anonymous_viewing = ma.fields.Boolean(
        dump_only=True, metadata={"description": "guests may watch and listen to its events"}
    )
    seconds_live_available = ma.fields.Integer(dump_only=True)
    seconds_published = ma.fields.Integer(dump_only=True)
    publishing_saving = ma.fields.Float(
        dump_only=True,
        allow_none=True,
        metadata={"description": "share of live-available time not published (0-1)"},
    )


class GoLiveSchema(ma.Schema):
    """Optional title and box for Go Live."""

    title = ma.fields.String(validate=validate.Length(max=140), load_default=None)
    position = Int32(
        load_default=None,
        metadata={"description": "a box of the room (another position is 404)"},
    )


class GoLiveResultSchema(ma.Schema):
    """The seated stream with publisher credentials, or a place in the queue."""

    stream = ma.fields.Nested(StreamSummarySchema, dump_only=True, allow_none=True)
    box = ma.fields.Nested(BoxSchema, dump_only=True, allow_none=True)
    queued = ma.fields.Boolean(dump_only=True)
    queue_position = ma.fields.Integer(dump_only=True, allow_none=True)
    credentials = ma.fields.Nested(CredentialsSchema, dump_only=True, allow_none=True)


class LeaveResultSchema(ma.Schema):
    """What ending (or leaving the queue) did."""

    ended_stream_id = ma.fields.UUID(dump_only=True, allow_none=True)
    left_queue = ma.fields.Boolean(dump_only=True)


class WatchResultSchema(ma.Schema):
    """Subscriber credentials for the box just opened."""

    credentials = ma.fields.Nested(CredentialsSchema, dump_only=True)
    box = ma.fields.Nested(BoxSchema, dump_only=True)


class HeartbeatSchema(ma.Schema):
    """The boxes the caller has open."""

    positions = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=12)),
        load_default=list,
        validate=validate.Length(max=12),
    )


class HeartbeatBoxSchema(ma.Schema):
    """Whether one open box was refreshed (false: not open, ignored)."""

    position = ma.fields.Integer(dump_only=True)
    refreshed = ma.fields.Boolean(dump_only=True)


class HeartbeatResultSchema(ma.Schema):
    """Per-box outcome, and whether the caller's own stream was refreshed."""

    boxes = ma.fields.List(ma.fields.Nested(HeartbeatBoxSchema), dump_only=True)
    streamer = ma.fields.Boolean(dump_only=True)
