"""The caller's notifications: list them, mark them read."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.notifications.schemas import (
    MarkedSchema,
    MarkReadSchema,
    NotificationPageSchema,
)
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user_id
from mylivelinks.services.notifications import inbox

blp = Blueprint(
    "notifications", __name__, url_prefix="/me/notifications", description="Notifications"
)


@blp.route("")
class MyNotifications(MethodView):
    @auth_required(blp)
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args):
        """The caller's notifications, newest first, and the unread count"""
        recipient_id = current_user_id()
        page = inbox.my_notifications(recipient_id, **args)
        return {
            "items": [row.Notification for row in page.items],
            "next_cursor": page.next_cursor,
            "unread_count": inbox.unread_count(recipient_id),
        }


@blp.route("/read")
class MarkRead(MethodView):
    @auth_required(blp)
    @blp.arguments(MarkReadSchema())
    @blp.response(200, MarkedSchema)
    def post(self, data):
        """Mark notifications read: the listed `ids`, or every one created up to `up_to`"""
        recipient_id = current_user_id()
        marked = inbox.mark_read(recipient_id, datetime.now(UTC), **data)
        return {"marked": marked, "unread_count": inbox.unread_count(recipient_id)}
