"""Coin packs, checkout (Stripe on the web) and the caller's purchases."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.coins.schemas import (
    AppleTransactionSchema,
    CheckoutResultSchema,
    CheckoutSchema,
    CoinPackListSchema,
    GooglePurchaseSchema,
    PackArgsSchema,
    PurchasePageSchema,
    RedeemedPurchaseSchema,
)
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.idempotency import idempotent
from mylivelinks.ledger.wallet import wallet
from mylivelinks.payments.base import (
    PaymentNotConfigured,
    PaymentProviderError,
    PaymentUnavailable,
    PurchaseInvalid,
)
from mylivelinks.payments.purchases import find_pack, list_purchases, packs_on, start_checkout
from mylivelinks.payments.store_purchases import PurchaseOfAnotherBuyer, redeem_in_app_purchase
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


def _redeem(platform: str, store: str, proof: dict[str, str]) -> dict:
    buyer_id = current_user().id
    end_read_only_transaction()  # no transaction stays open across the call to the store
    try:
        purchase = redeem_in_app_purchase(buyer_id, platform, proof)
    except PaymentNotConfigured:
        abort(503, message=f"{store} purchases are not configured on this server.")
    except PurchaseOfAnotherBuyer as exc:
        abort(409, message=str(exc))
    except PurchaseInvalid as exc:
        abort(400, message=f"{store} does not vouch for this purchase: {exc}")
    except PaymentUnavailable as exc:
        abort(502, message=f"{store} could not be asked; try again: {exc}")
    except PaymentProviderError as exc:
        abort(502, message=f"{store} refused the check: {exc}")
    return {"purchase": purchase, "wallet": wallet(buyer_id)}


@blp.route("/apple/transactions")
class AppleTransactions(MethodView):
    @auth_required(blp)
    @idempotent(blp)
    @blp.arguments(AppleTransactionSchema())
    @blp.response(200, RedeemedPurchaseSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Not a verified transaction of this app")
    @blp.alt_response(409, schema=ErrorSchema, description="Bought or redeemed by another account")
    @blp.alt_response(502, schema=ErrorSchema, description="Apple's certificate status unknown")
    @blp.alt_response(503, schema=ErrorSchema, description="App Store purchases not configured")
    def post(self, data):
        """Redeem an App Store purchase: its StoreKit 2 signed transaction credits the coins once.

        The transaction must verify against Apple's root certificates for this app's bundle id
        and environment, and name an `ios` pack as its product. Sending it again (or after the
        App Store's notification credited it) answers the same purchase without crediting twice.
        """
        return _redeem("ios", "The App Store", {"signed_transaction": data["signed_transaction"]})


@blp.route("/google/purchases")
class GooglePurchases(MethodView):
    @auth_required(blp)
    @idempotent(blp)
    @blp.arguments(GooglePurchaseSchema())
    @blp.response(200, RedeemedPurchaseSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Google Play does not vouch for it")
    @blp.alt_response(409, schema=ErrorSchema, description="Bought or redeemed by another account")
    @blp.alt_response(502, schema=ErrorSchema, description="Google Play refused or is unreachable")
    @blp.alt_response(503, schema=ErrorSchema, description="Google Play purchases not configured")
    def post(self, data):
        """Redeem a Google Play purchase: verified with the Play Developer API, credited once.

        The purchase must be in the purchased state and be an `android` pack; its coins are
        credited once per order, then the purchase is consumed so it can be bought again.
        """
        proof = {"product_id": data["product_id"], "purchase_token": data["purchase_token"]}
        return _redeem("android", "Google Play", proof)


@blp.route("/purchases")
class Purchases(MethodView):
    @auth_required(blp)
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, PurchasePageSchema)
    def get(self, args):
        """The caller's purchases with their status, newest first"""
        page = list_purchases(current_user().id, **args)
        return {"items": [row.CoinPurchase for row in page.items], "next_cursor": page.next_cursor}
