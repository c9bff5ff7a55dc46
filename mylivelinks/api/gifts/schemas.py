"""Gift catalog and sending schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.profiles.schemas import ProfileSummarySchema
from mylivelinks.api.schemas import Int32
from mylivelinks.api.wallet.schemas import WalletSchema
from mylivelinks.models.gifts import GiftAnimation, GiftRarity
from mylivelinks.services.gifts.catalog import MAX_QUANTITY


class GiftTypeSchema(ma.Schema):
    """A gift in the catalog."""

    id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=50))
    emoji = ma.fields.String(required=True, validate=validate.Length(min=1, max=16))
    coin_cost = ma.fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=10_000_000)
    )
    animation = ma.fields.String(required=True, validate=validate.OneOf(tuple(GiftAnimation)))
    rarity = ma.fields.String(required=True, validate=validate.OneOf(tuple(GiftRarity)))
    sort_order = Int32(load_default=0)
    active = ma.fields.Boolean(load_default=True, metadata={"description": "false: retired"})


class GiftTypeEditSchema(GiftTypeSchema):
    """A gift type to create (no id) or to update (its id)."""

    id = ma.fields.UUID(load_default=None)


class CatalogEditSchema(ma.Schema):
    """The whole catalog: listed types are created or updated, unlisted ones retired."""

    items = ma.fields.List(
        ma.fields.Nested(GiftTypeEditSchema), required=True, validate=validate.Length(max=200)
    )


class CatalogSchema(ma.Schema):
    """The gift catalog."""

    items = ma.fields.List(ma.fields.Nested(GiftTypeSchema), dump_only=True)


class SendGiftSchema(ma.Schema):
    """What to send, how many, and to whom: a box (`room` + `position`) or a `recipient`."""

    gift_type_id = ma.fields.UUID(required=True)
    quantity = ma.fields.Integer(
        strict=True, load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY)
    )
    room = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=30))
    position = ma.fields.Integer(
        strict=True, load_default=None, validate=validate.Range(min=1, max=12)
    )
    recipient = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=30))


class GiftSchema(ma.Schema):
    """A gift sent, with the exact split."""

    id = ma.fields.UUID(dump_only=True)
    sender = ma.fields.Nested(ProfileSummarySchema, dump_only=True)
    recipient = ma.fields.Nested(ProfileSummarySchema, dump_only=True)
    stream_id = ma.fields.UUID(dump_only=True, allow_none=True)
    room = ma.fields.String(dump_only=True, allow_none=True)
    position = ma.fields.Integer(dump_only=True, allow_none=True)
    gift_type = ma.fields.Nested(GiftTypeSchema, dump_only=True)
    quantity = ma.fields.Integer(dump_only=True)
    coins = ma.fields.Integer(dump_only=True)
    streamer_share_centicoins = ma.fields.Integer(dump_only=True)
    platform_share_centicoins = ma.fields.Integer(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


class SentGiftSchema(ma.Schema):
    """The gift and the sender's wallet after it."""

    gift = ma.fields.Nested(GiftSchema, dump_only=True)
    wallet = ma.fields.Nested(WalletSchema, dump_only=True)
