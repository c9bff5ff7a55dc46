"""Wallet and ledger history schemas."""

from __future__ import annotations

import marshmallow as ma

from mylivelinks.api.schemas import page_schema


class WalletSchema(ma.Schema):
    """What the caller holds."""

    coin_balance = ma.fields.Integer(dump_only=True, metadata={"description": "spendable coins"})
    earnings_balance_centicoins = ma.fields.Integer(
        dump_only=True, metadata={"description": "gift earnings in hundredths of a coin"}
    )
    frozen = ma.fields.Boolean(
        dump_only=True, metadata={"description": "spending is frozen while coins are owed"}
    )
    debt_coins = ma.fields.Integer(
        dump_only=True, metadata={"description": "coins owed after a refund or chargeback"}
    )


class LedgerEntrySchema(ma.Schema):
    """One posting to one of the caller's accounts."""

    entry_id = ma.fields.Integer(dump_only=True)
    transaction_id = ma.fields.UUID(dump_only=True)
    kind = ma.fields.String(
        dump_only=True, metadata={"description": "purchase, purchase_reversal, adjustment, ..."}
    )
    account = ma.fields.String(dump_only=True, metadata={"description": "coins, earnings or debt"})
    amount_centicoins = ma.fields.Integer(
        dump_only=True, metadata={"description": "positive in, negative out"}
    )
    details = ma.fields.Dict(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


LedgerPageSchema = page_schema(LedgerEntrySchema, "LedgerPage")
