"""Gifts: the catalog, and sending a gift to a box or a user."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.gifts.schemas import CatalogSchema, SendGiftSchema, SentGiftSchema
from mylivelinks.api.security import auth_required, current_user_id
from mylivelinks.idempotency import idempotent, key_given
from mylivelinks.rate_limits import caller_key, gift_limit, rate_limited
from mylivelinks.services.gifts import catalog, sending
from mylivelinks.transaction import commit_each_statement

blp = Blueprint("gifts", __name__, url_prefix="/gifts", description="Gifts")


@blp.route("")
class Gifts(MethodView):
    @blp.response(200, CatalogSchema)
    def get(self):
        """The gift catalog (types that can be sent), cheapest first"""
        return {"items": catalog.catalog()}

    @auth_required(blp, load_profile=False)
    @idempotent(blp)
    @blp.arguments(SendGiftSchema())
    @blp.response(201, SentGiftSchema)
    @blp.alt_response(402, schema=ErrorSchema, description="Not enough coins (balance named)")
    @blp.alt_response(403, schema=ErrorSchema, description="Spending frozen (coins owed)")
    @blp.alt_response(404, schema=ErrorSchema, description="No such gift, room, box or user")
    @blp.alt_response(409, schema=ErrorSchema, description="The box is empty")
    @blp.alt_response(429, schema=ErrorSchema, description="Too many gifts (Retry-After)")
    @rate_limited(gift_limit, key=caller_key)
    def post(self, data):
        """Send a gift to an occupied box or a user: coins to earnings and revenue, exactly"""
        if not key_given():
            # One statement books the gift; committing as it runs, it holds the streamer's
            # hot rows only while it runs. A stored response commits with its gift instead.
            commit_each_statement()
        sent = sending.send_gift(
            current_user_id(),
            data["gift_type_id"],
            data["quantity"],
            room=data["room"],
            position=data["position"],
            recipient=data["recipient"],
            streamer_percent=current_app.config["GIFT_STREAMER_SHARE_PERCENT"],
        )
        return {"gift": sent, "wallet": sent.wallet}
