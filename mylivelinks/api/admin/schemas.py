"""Admin schemas: adjustments and reconciliation."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.wallet.schemas import WalletSchema


class AdjustmentSchema(ma.Schema):
    """Coins to grant (positive) or remove (negative), and why."""

    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=30))
    coins = ma.fields.Integer(
        required=True,
        strict=True,
        validate=[
            validate.Range(min=-(10**9), max=10**9),
            validate.NoneOf([0], error="Must not be zero."),
        ],
    )
    reason = ma.fields.String(required=True, validate=validate.Length(min=3, max=500))


class AdjustmentResultSchema(ma.Schema):
    """The booked adjustment and the user's wallet after it."""

    transaction_id = ma.fields.UUID(dump_only=True)
    username = ma.fields.String(dump_only=True)
    coins = ma.fields.Integer(dump_only=True)
    reason = ma.fields.String(dump_only=True)
    wallet = ma.fields.Nested(WalletSchema, dump_only=True)


class ReconciliationSchema(ma.Schema):
    """The last reconciliation of cached balances against the entries."""

    id = ma.fields.UUID(dump_only=True)
    started_at = ma.fields.DateTime(dump_only=True)
    finished_at = ma.fields.DateTime(dump_only=True)
    ok = ma.fields.Boolean(dump_only=True)
    accounts_checked = ma.fields.Integer(dump_only=True)
    entries_checked = ma.fields.Integer(dump_only=True)
    entries_total = ma.fields.Integer(
        dump_only=True, metadata={"description": "sum of all entries; 0 when value is conserved"}
    )
    balances_total = ma.fields.Integer(dump_only=True)
    mismatches = ma.fields.List(ma.fields.Dict(), dump_only=True)
