"""Room chat: history, posting, deleting; chat settings (moderators); reports."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView
from flask_smorest import Blueprint

from mylivelinks.api.chat.schemas import (
    ChatMessageSchema,
    ChatPageSchema,
    ChatSettingsPatchSchema,
    ChatSettingsSchema,
    PostMessageSchema,
    ReportRequestSchema,
    ReportSchema,
)
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.rate_limits import caller_is_staff, caller_key, chat_limit, rate_limited
from mylivelinks.services.chat import messages, settings
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


@blp.route("/rooms/<string:slug>/chat")
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


@blp.route("/rooms/<string:slug>/chat/<uuid:message_id>")
class ChatMessageView(MethodView):
    @auth_required(blp)
    @blp.response(204)
    @blp.alt_response(403, schema=ErrorSchema, description="Neither its author nor a moderator")
    @blp.alt_response(404, **NO_ROOM)
    def delete(self, slug, message_id):
        """Delete a message (its author, or a moderator)"""
        messages.delete_message(get_room(slug), message_id, current_user(), datetime.now(UTC))


@blp.route("/rooms/<string:slug>/settings")
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


@blp.route("/reports")
class Reports(MethodView):
    @auth_required(blp)
    @blp.arguments(ReportRequestSchema())
    @blp.response(201, ReportSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such message or user")
    def post(self, data):
        """Report a message or a user to the moderators"""
        return messages.report(
            current_user(), data["target_type"], data["target_id"], data["reason"]
        )
