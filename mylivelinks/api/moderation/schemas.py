"""Ban, timeout and audit-trail schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.schemas import page_schema
from mylivelinks.services.moderation.actions import MAX_TIMEOUT_SECONDS


class BanRequestSchema(ma.Schema):
    """Who to keep out, for how long (none: a ban until lifted), and why."""

    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=30))
    duration_seconds = ma.fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_TIMEOUT_SECONDS),
        metadata={"description": "a chat timeout of 1 s to 14 days; omitted: a ban"},
    )
    reason = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=500), metadata={"description": "why"}
    )


class BanSchema(ma.Schema):
    """A ban (chat, boxes and going live, until lifted) or a chat timeout."""

    username = ma.fields.String(dump_only=True)
    room = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"description": "`ban` or `timeout`"})
    expires_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    reason = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


BanPageSchema = page_schema(BanSchema, "BanPage")


class ModerationActionSchema(ma.Schema):
    """One moderator action."""

    id = ma.fields.UUID(dump_only=True)
    action = ma.fields.String(dump_only=True)
    moderator = ma.fields.String(dump_only=True, allow_none=True)
    room = ma.fields.String(dump_only=True, allow_none=True)
    target = ma.fields.String(dump_only=True, allow_none=True)
    details = ma.fields.Dict(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


ModerationActionPageSchema = page_schema(ModerationActionSchema, "ModerationActionPage")
