"""Gifts: the catalog, and sending a gift to a box or a user."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from mylivelinks.api.chat.lines import system_line
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.gifts.schemas import CatalogSchema, SendGiftSchema, SentGiftSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.events import gifts as gift_events
from mylivelinks.idempotency import idempotent
from mylivelinks.ledger.wallet import wallet
from mylivelinks.models import GiftType
from mylivelinks.rate_limits import caller_key, gift_limit, limiter
from mylivelinks.services import gifts
from mylivelinks.transaction import after_commit

blp = Blueprint("gifts", __name__, url_prefix="/gifts", description="Gifts")


def gift_view(gift, sender, target, gift_type: GiftType) -> dict:
    """A gift as the API shows it."""
    return {
        "id": gift.id,
        "sender": sender,
        "recipient": target.recipient,
        "stream_id": gift.stream_id,
        "room": target.room.slug if target.room else None,
        "position": gift.position,
        "gift_type": gift_type,
        "quantity": gift.quantity,
        "coins": gift.coins,
        "streamer_share_centicoins": gift.streamer_share_centicoins,
        "platform_share_centicoins": gift.platform_share_centicoins,
        "created_at": gift.created_at,
    }


@blp.route("")
class Gifts(MethodView):
    @blp.response(200, CatalogSchema)
    def get(self):
        """The gift catalog (types that can be sent), cheapest first"""
        return {"items": gifts.catalog()}

    @auth_required(blp)
    @idempotent(blp)
    @blp.arguments(SendGiftSchema)
    @blp.response(201, SentGiftSchema)
    @blp.alt_response(402, schema=ErrorSchema, description="Not enough coins (balance named)")
    @blp.alt_response(403, schema=ErrorSchema, description="Spending frozen (coins owed)")
    @blp.alt_response(404, schema=ErrorSchema, description="No such gift, room, box or user")
    @blp.alt_response(409, schema=ErrorSchema, description="The box is empty")
    @blp.alt_response(429, schema=ErrorSchema, description="Too many gifts (Retry-After)")
    @limiter.limit(gift_limit, key_func=caller_key)
    def post(self, data):
        """Send a gift to an occupied box or a user: coins to earnings and revenue, exactly"""
        sender = current_user()
        target = gifts.resolve_target(
            sender, room=data["room"], position=data["position"], recipient=data["recipient"]
        )
        gift = gifts.send_gift(
            sender,
            data["gift_type_id"],
            data["quantity"],
            target,
            streamer_percent=current_app.config["GIFT_STREAMER_SHARE_PERCENT"],
        )
        gift_type = gift.gift_type
        view = gift_view(gift, sender, target, gift_type)
        if target.room is not None:
            system_line(
                target.room.id,
                target.room.slug,
                "gift",
                f"{sender.username} sent {target.recipient.username} "
                f"{gift.quantity} x {gift_type.emoji} {gift_type.name}",
            )
        announcement = gift_events.announcement(view)
        after_commit(lambda: gift_events.gift_sent(announcement))
        return {"gift": view, "wallet": wallet(sender.id)}
