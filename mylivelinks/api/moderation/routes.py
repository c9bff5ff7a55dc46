"""Moderation: room bans and chat timeouts (moderators), the audit trail (admins)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.moderation.schemas import (
    BanPageSchema,
    BanRequestSchema,
    BanSchema,
    ModerationActionPageSchema,
)
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.models import Profile, RoomBan
from mylivelinks.services.accounts.users import get_by_username
from mylivelinks.services.moderation import actions
from mylivelinks.services.rooms.state import get_room

blp = Blueprint("moderation", __name__, url_prefix="", description="Moderation")

NOT_FOUND = {"schema": ErrorSchema, "description": "No such room, user or ban"}


def _ban(ban: RoomBan, target: Profile, slug: str) -> dict:
    return {
        "username": target.username,
        "room": slug,
        "kind": "ban" if ban.is_ban else "timeout",
        "expires_at": ban.expires_at,
        "reason": ban.reason,
        "created_at": ban.created_at,
    }


@blp.route("/rooms/<slug:slug>/bans")
class RoomBans(MethodView):
    @auth_required(blp, *actions.STAFF)
    @blp.arguments(BanRequestSchema())
    @blp.response(201, BanSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def post(self, data, slug):
        """Ban a user from the room (no duration) or time them out of its chat"""
        target = get_by_username(data["username"])
        room, now = get_room(slug, lock=True), datetime.now(UTC)
        outcome = actions.restrict(
            room,
            current_user(),
            target,
            duration_seconds=data["duration_seconds"],
            reason=data["reason"],
            now=now,
        )
        return _ban(outcome.ban, target, room.slug)

    @auth_required(blp, *actions.STAFF)
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, BanPageSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, args, slug):
        """The room's bans and running timeouts, newest first"""
        room = get_room(slug)
        page = actions.room_bans(room, datetime.now(UTC), **args)
        return {
            "items": [_ban(row.RoomBan, row.Profile, room.slug) for row in page.items],
            "next_cursor": page.next_cursor,
        }


@blp.route("/rooms/<slug:slug>/bans/<username:username>")
class BanOfUser(MethodView):
    @auth_required(blp, *actions.STAFF)
    @blp.response(204)
    @blp.alt_response(404, **NOT_FOUND)
    def delete(self, slug, username):
        """Lift a user's ban or timeout in the room"""
        actions.lift(get_room(slug), current_user(), get_by_username(username))


@blp.route("/admin/moderation-actions")
class ModerationActions(MethodView):
    @auth_required(blp, "admin")
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, ModerationActionPageSchema)
    def get(self, args):
        """The audit trail of every moderator action, newest first"""
        page = actions.audit_trail(**args)
        return {
            "items": [
                {
                    "id": row.ModerationAction.id,
                    "action": row.ModerationAction.action,
                    "moderator": row.moderator,
                    "room": row.room,
                    "target": row.target,
                    "details": row.ModerationAction.details,
                    "created_at": row.ModerationAction.created_at,
                }
                for row in page.items
            ],
            "next_cursor": page.next_cursor,
        }
