"""Coin pack, checkout and purchase schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.schemas import page_schema
from mylivelinks.api.wallet.schemas import WalletSchema
from mylivelinks.payments.packs import PLATFORMS


class PackArgsSchema(ma.Schema):
    """`?platform=` of the pack list."""

    platform = ma.fields.String(load_default="web", validate=validate.OneOf(PLATFORMS))


class CoinPackSchema(ma.Schema):
    """A coin pack on sale."""

    id = ma.fields.String(dump_only=True)
    platform = ma.fields.String(dump_only=True)
    coins = ma.fields.Integer(dump_only=True)
    price_cents = ma.fields.Integer(dump_only=True)
    currency = ma.fields.String(dump_only=True)
    label = ma.fields.String(dump_only=True)


class CoinPackListSchema(ma.Schema):
    """Every pack of one platform, cheapest first."""

    items = ma.fields.List(ma.fields.Nested(CoinPackSchema), dump_only=True)


class CheckoutSchema(ma.Schema):
    """The web pack to buy."""

    pack_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))


class PurchaseSchema(ma.Schema):
    """A purchase and where it stands."""

    id = ma.fields.UUID(dump_only=True)
    pack_id = ma.fields.String(dump_only=True)
    platform = ma.fields.String(dump_only=True)
    provider = ma.fields.String(dump_only=True)
    coins = ma.fields.Integer(dump_only=True)
    price_cents = ma.fields.Integer(dump_only=True)
    currency = ma.fields.String(dump_only=True)
    status = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "pending, confirmed, refunded, partially_refunded, disputed, "
            "chargeback or flagged"
        },
    )
    refunded_cents = ma.fields.Integer(dump_only=True)
    coins_credited = ma.fields.Integer(dump_only=True)
    coins_reversed = ma.fields.Integer(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class CheckoutResultSchema(ma.Schema):
    """Where to send the buyer, and the pending purchase."""

    purchase_id = ma.fields.UUID(dump_only=True)
    checkout_url = ma.fields.String(dump_only=True)
    purchase = ma.fields.Nested(PurchaseSchema, dump_only=True)


PurchasePageSchema = page_schema(PurchaseSchema, "PurchasePage")


class AppleTransactionSchema(ma.Schema):
    """What StoreKit 2 handed the app after a purchase."""

    signed_transaction = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=20_000),
        metadata={
            "description": "the transaction's `jwsRepresentation` (JWS signed by the App "
            "Store); buy with `appAccountToken` set to the caller's user id"
        },
    )


class GooglePurchaseSchema(ma.Schema):
    """What Play Billing handed the app after a purchase."""

    product_id = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the Play product id: an android pack id (`android_5`, ...)"},
    )
    purchase_token = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={
            "description": "the purchase's token; buy with `setObfuscatedAccountId` set to "
            "the caller's user id"
        },
    )


class RedeemedPurchaseSchema(ma.Schema):
    """The purchase the store vouched for, and the caller's wallet with its coins."""

    purchase = ma.fields.Nested(PurchaseSchema, dump_only=True)
    wallet = ma.fields.Nested(WalletSchema, dump_only=True)
