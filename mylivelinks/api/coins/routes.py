"""Coin packs, checkout (Stripe on the web) and the caller's purchases."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from mylivelinks.api.coins.schemas import (
    CheckoutResultSchema,
    CheckoutSchema,
    CoinPackListSchema,
    PackArgsSchema,
    PurchasePageSchema,
)
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.idempotency import idempotent
from mylivelinks.payments.base import PaymentNotConfigured, PaymentProviderError
from mylivelinks.payments.purchases import find_pack, list_purchases, packs_on, start_checkout
from mylivelinks.transaction import end_read_only_transaction

blp = Blueprint("coins", __name__, url_prefix="/coins", description="Coin packs and purchases")


@blp.route("/packs")
class Packs(MethodView):
    @blp.arguments(PackArgsSchema(), location="query")
    @blp.response(200, CoinPackListSchema)
    def get(self, args):
        """Coin packs on sale on a platform (web by default)"""
        return {"items": packs_on(args["platform"])}


@blp.route("/checkout")
class Checkout(MethodView):
    @auth_required(blp)
    @idempotent(blp)
    @blp.arguments(CheckoutSchema())
    @blp.response(201, CheckoutResultSchema)
    @blp.alt_response(502, schema=ErrorSchema, description="Stripe refused or is unreachable")
    @blp.alt_response(503, schema=ErrorSchema, description="Stripe is not configured")
    def post(self, data):
        """Buy a web coin pack: a Stripe Checkout Session and a pending purchase"""
        pack = find_pack(data["pack_id"], platform="web")
        buyer_id = current_user().id
        end_read_only_transaction()  # no transaction stays open across the call to the store
        try:
            purchase = start_checkout(buyer_id, pack)
        except PaymentNotConfigured:
            abort(503, message="Card payments are not configured on this server.")
        except PaymentProviderError as exc:  # unreachable, or refused the checkout
            abort(502, message=f"The payment provider refused the checkout: {exc}")
        return {
            "purchase_id": purchase.id,
            "checkout_url": purchase.checkout_url,
            "purchase": purchase,
        }


@blp.route("/purchases")
class Purchases(MethodView):
    @auth_required(blp)
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, PurchasePageSchema)
    def get(self, args):
        """The caller's purchases with their status, newest first"""
        page = list_purchases(current_user().id, **args)
        return {"items": [row.CoinPurchase for row in page.items], "next_cursor": page.next_cursor}
