"""Chat message, settings and report schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.profiles.schemas import ProfileSummarySchema
from mylivelinks.api.schemas import PageArgsSchema, page_schema
from mylivelinks.models.chat import (
    MAX_MESSAGE_LENGTH,
    ReportOutcome,
    ReportStatus,
    ReportTarget,
)


class PostMessageSchema(ma.Schema):
    """A message to post (trimmed; not empty)."""

    body = ma.fields.String(required=True, validate=validate.Length(max=MAX_MESSAGE_LENGTH))


class ChatMessageSchema(ma.Schema):
    """One chat line: `user`, `system` (joins, box changes) or `gift`."""

    id = ma.fields.UUID(dump_only=True)
    kind = ma.fields.String(dump_only=True)
    body = ma.fields.String(dump_only=True)
    author = ma.fields.Nested(ProfileSummarySchema, dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)


ChatPageSchema = page_schema(ChatMessageSchema, "ChatPage")


class ChatSettingsSchema(ma.Schema):
    """A room's settings: chat (slow mode, blocked terms) and anonymous viewing.

    As a PUT body it is the whole document: an omitted field goes back to its default.
    """

    slow_mode_seconds = ma.fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(min=0, max=3600),
        metadata={"description": "seconds between one user's messages; 0 (the default) is off"},
    )
    blocked_terms = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=50)),
        load_default=list,
        validate=validate.Length(max=500),
        metadata={"description": "refused as whole words, in any case; none by default"},
    )
    anonymous_viewing = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "guests (`POST /auth/guest`) may open boxes in this room and "
            "listen to its events; off by default"
        },
    )


class ChatSettingsPatchSchema(ChatSettingsSchema):
    """Some of a room's settings: those given change, the others stay as they are."""

    class Meta:
        partial = True

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        """No defaults: an omitted setting is left alone."""
        field_obj.load_default = ma.missing


class ReportRequestSchema(ma.Schema):
    """What is reported, and why."""

    target_type = ma.fields.Enum(ReportTarget, by_value=True, required=True)
    target_id = ma.fields.UUID(required=True)
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


class ReportSchema(ma.Schema):
    """A filed report, as its reporter sees it."""

    id = ma.fields.UUID(dump_only=True)
    target_type = ma.fields.Enum(ReportTarget, by_value=True, dump_only=True)
    target_id = ma.fields.UUID(dump_only=True)
    reason = ma.fields.String(dump_only=True)
    status = ma.fields.Enum(ReportStatus, by_value=True, dump_only=True)
    outcome = ma.fields.Enum(
        ReportOutcome,
        by_value=True,
        dump_only=True,
        allow_none=True,
        metadata={"description": "once resolved: dismissed, or actioned by a moderator"},
    )
    created_at = ma.fields.DateTime(dump_only=True)
    resolved_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class ReportedMessageSchema(ma.Schema):
    """The reported message as it is now (deleted ones included)."""

    id = ma.fields.UUID(dump_only=True)
    room = ma.fields.String(dump_only=True, metadata={"description": "the room's slug"})
    body = ma.fields.String(dump_only=True)
    author = ma.fields.Nested(ProfileSummarySchema, dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    deleted = ma.fields.Boolean(dump_only=True)


class ReportEntrySchema(ReportSchema):
    """A report in the moderators' queue, with its reporter and its target."""

    reporter = ma.fields.Nested(ProfileSummarySchema, dump_only=True, allow_none=True)
    message = ma.fields.Nested(
        ReportedMessageSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "the reported message (null when a user is reported)"},
    )
    user = ma.fields.Nested(
        ProfileSummarySchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "the reported user (null when a message is reported)"},
    )
    resolution_note = ma.fields.String(dump_only=True, allow_none=True)
    resolved_by = ma.fields.UUID(dump_only=True, allow_none=True)


ReportPageSchema = page_schema(ReportEntrySchema, "ReportPage")


class ReportQueueArgsSchema(PageArgsSchema):
    """Which reports to list."""

    status = ma.fields.Enum(
        ReportStatus,
        by_value=True,
        load_default=ReportStatus.OPEN,
        metadata={"description": "open (the default: oldest first) or resolved (newest first)"},
    )


class ResolveReportSchema(ma.Schema):
    """A moderator's decision on a report."""

    outcome = ma.fields.Enum(ReportOutcome, by_value=True, required=True)
    note = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=500)
    )
