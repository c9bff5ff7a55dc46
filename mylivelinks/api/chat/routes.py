"""Room chat: history, posting, deleting; chat settings (moderators); reports."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.chat.schemas import (
    ChatMessageSchema,
    ChatPageSchema,
    ChatSettingsPatchSchema,
    ChatSettingsSchema,
    PostMessageSchema,
    ReportEntrySchema,
    ReportPageSchema,
    ReportQueueArgsSchema,
    ReportRequestSchema,
    ReportSchema,
    ResolveReportSchema,
)
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.rate_limits import caller_is_staff, caller_key, chat_limit, rate_limited
from mylivelinks.services.chat import messages, reports, settings
from mylivelinks.services.moderation.actions import STAFF
from mylivelinks.services.rooms.state import get_room

blp = Blueprint("chat", __name__, url_prefix="", description="Chat and reports")

NO_ROOM = {"schema": ErrorSchema, "description": "No such room or message"}


def message_view(message, author) -> dict:
    """A chat message as the API shows it."""
    return {
        "id": message.id,
        "kind": message.kind,
        "body": message.body,
        "author": author,
        "created_at": message.created_at,
    }


@blp.route("/rooms/<slug:slug>/chat")
class Chat(MethodView):
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, ChatPageSchema)
    @blp.alt_response(404, **NO_ROOM)
    def get(self, args, slug):
        """The room's chat, newest first (deleted messages hidden)"""
        page = messages.history(get_room(slug), **args)
        return {
            "items": [message_view(row.ChatMessage, row.Profile) for row in page.items],
            "next_cursor": page.next_cursor,
        }

    @auth_required(blp)
    @blp.arguments(PostMessageSchema())
    @blp.response(201, ChatMessageSchema)
    @blp.alt_response(403, schema=ErrorSchema, description="Banned or timed out in this room")
    @blp.alt_response(404, **NO_ROOM)
    @blp.alt_response(429, schema=ErrorSchema, description="Too many messages (Retry-After)")
    @rate_limited(chat_limit, key=caller_key, exempt_when=caller_is_staff)
    def post(self, data, slug):
        """Post a message (at most 500 characters; blocked terms and slow mode apply)"""
        room, author = get_room(slug), current_user()
        message = messages.post_message(room, author, data["body"], datetime.now(UTC))
        return message_view(message, author)


@blp.route("/rooms/<slug:slug>/chat/<uuid:message_id>")
class ChatMessageView(MethodView):
    @auth_required(blp)
    @blp.response(204)
    @blp.alt_response(403, schema=ErrorSchema, description="Neither its author nor a moderator")
    @blp.alt_response(404, **NO_ROOM)
    def delete(self, slug, message_id):
        """Delete a message (its author, or a moderator)"""
        messages.delete_message(get_room(slug), message_id, current_user(), datetime.now(UTC))


@blp.route("/rooms/<slug:slug>/settings")
class ChatSettings(MethodView):
    @auth_required(blp, *STAFF)
    @blp.response(200, ChatSettingsSchema)
    @blp.alt_response(404, **NO_ROOM)
    def get(self, slug):
        """The room's slow mode, blocked terms and anonymous viewing (moderators)"""
        return settings.settings_of(get_room(slug))

    @auth_required(blp, *STAFF)
    @blp.arguments(ChatSettingsSchema())
    @blp.response(200, ChatSettingsSchema)
    @blp.alt_response(404, **NO_ROOM)
    def put(self, data, slug):
        """Replace the room's settings whole: an omitted setting goes back to its default"""
        room = settings.replace_settings(get_room(slug, lock=True), current_user(), data)
        return settings.settings_of(room)

    @auth_required(blp, *STAFF)
    @blp.arguments(ChatSettingsPatchSchema())
    @blp.response(200, ChatSettingsSchema)
    @blp.alt_response(404, **NO_ROOM)
    def patch(self, data, slug):
        """Change the settings given and leave the others as they are"""
        room = settings.update_settings(get_room(slug, lock=True), current_user(), data)
        return settings.settings_of(room)


def _report_entry(entry: reports.ReportEntry) -> dict:
    report, message = entry.report, entry.message
    return {
        "id": report.id,
        "target_type": report.target_type,
        "target_id": report.target_id,
        "reason": report.reason,
        "status": report.status,
        "outcome": report.outcome,
        "created_at": report.created_at,
        "resolved_at": report.resolved_at,
        "resolution_note": report.resolution_note,
        "resolved_by": report.resolved_by,
        "reporter": entry.reporter,
        "message": None
        if message is None
        else {
            "id": message.id,
            "room": entry.room_slug,
            "body": message.body,
            "author": entry.message_author,
            "created_at": message.created_at,
            "deleted": message.deleted_at is not None,
        },
        "user": entry.user,
    }


@blp.route("/reports")
class Reports(MethodView):
    @auth_required(blp)
    @blp.arguments(ReportRequestSchema())
    @blp.response(201, ReportSchema)
    @blp.alt_response(
        200, schema=ReportSchema, description="You already reported this; that report stands"
    )
    @blp.alt_response(404, schema=ErrorSchema, description="No such message or user")
    def post(self, data):
        """Report a message or a user to the moderators (again while open: the same report)"""
        filed = reports.file_report(
            current_user(), data["target_type"], data["target_id"], data["reason"]
        )
        return filed.report, 201 if filed.created else 200

    @auth_required(blp, *STAFF)
    @blp.arguments(ReportQueueArgsSchema(), location="query")
    @blp.response(200, ReportPageSchema)
    def get(self, args):
        """The reports queue (moderators): open reports oldest first, or resolved ones"""
        page = reports.report_queue(args["status"], limit=args["limit"], cursor=args["cursor"])
        return {"items": [_report_entry(e) for e in page.items], "next_cursor": page.next_cursor}


@blp.route("/reports/<uuid:report_id>/resolve")
class ResolveReport(MethodView):
    @auth_required(blp, *STAFF)
    @blp.arguments(ResolveReportSchema())
    @blp.response(200, ReportEntrySchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such report")
    @blp.alt_response(409, schema=ErrorSchema, description="Already resolved")
    def post(self, data, report_id):
        """Resolve a report with an outcome (moderators); recorded in the audit trail"""
        entry = reports.resolve(
            report_id, current_user(), data["outcome"], data["note"], datetime.now(UTC)
        )
        return _report_entry(entry)
