"""Notification schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.schemas import CURSOR_PATTERN


class NotificationSchema(ma.Schema):
    """One notification; `data` depends on `kind`."""

    id = ma.fields.UUID(dump_only=True)
    kind = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "`went_live`: a followed streamer went live; `seated`: the queue "
            "gave you a box"
        },
    )
    data = ma.fields.Dict(
        dump_only=True,
        metadata={
            "description": "went_live: {streamer: {id, username, display_name, avatar_url}, "
            "stream_id, title, room, box}; seated: {room, position, stream_id}, and in the "
            "private `notification` event also `credentials` (publisher credentials, never "
            "stored). The `notification` event is this object, whatever the kind."
        },
    )
    created_at = ma.fields.DateTime(dump_only=True)
    read_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class NotificationPageSchema(ma.Schema):
    """A page of notifications, and how many of all are unread."""

    items = ma.fields.List(ma.fields.Nested(NotificationSchema), required=True)
    next_cursor = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "null on the last page", "pattern": CURSOR_PATTERN},
    )
    unread_count = ma.fields.Integer(dump_only=True)


class MarkReadSchema(ma.Schema):
    """Which notifications to mark read: `ids`, or all created up to `up_to`."""

    ids = ma.fields.List(
        ma.fields.UUID(), load_default=None, validate=validate.Length(min=1, max=100)
    )
    up_to = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "created_at of the newest one seen"}
    )

    @ma.validates_schema
    def one_of(self, data, **kwargs):
        """Exactly one of ids and up_to."""
        if (data.get("ids") is None) == (data.get("up_to") is None):
            raise ma.ValidationError("Give either ids or up_to.", "ids")


class MarkedSchema(ma.Schema):
    """How many were marked read, and how many are left unread."""

    marked = ma.fields.Integer(dump_only=True)
    unread_count = ma.fields.Integer(dump_only=True)
