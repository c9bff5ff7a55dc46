"""The double-entry ledger: accounts with cached balances, transactions, immutable entries.

Every amount is BIGINT hundredths of a coin (centicoins), so a 70/30 split of one coin is
exact. Database triggers (migration 0003) refuse UPDATE/DELETE of entries and transactions,
and check at commit that each transaction's entries sum to zero.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class AccountKind(StrEnum):
    """What a ledger account holds. User accounts have an owner; platform accounts have none."""

    USER_COINS = "user_coins"  # spendable, purchased coins; never below zero
    USER_EARNINGS = "user_earnings"  # streamer's share of gifts; never below zero, not spendable
    USER_DEBT = "user_debt"  # what the user owes after a refund of spent coins; never above zero
    PLATFORM_REVENUE = "platform_revenue"
    PURCHASES_CLEARING = "purchases_clearing"  # where purchased coins come from
    REVERSALS_CLEARING = "reversals_clearing"  # where refunded and charged-back coins go
    ADJUSTMENTS = "adjustments"  # counterpart of admin adjustments


USER_ACCOUNT_KINDS = (AccountKind.USER_COINS, AccountKind.USER_EARNINGS, AccountKind.USER_DEBT)
PLATFORM_ACCOUNT_KINDS = tuple(kind for kind in AccountKind if kind not in USER_ACCOUNT_KINDS)
CENTICOINS_PER_COIN = 100
# Every gift pays the platform: its revenue is spread over this many accounts so that
# concurrent transfers do not queue on one row lock. The revenue is their sum.
REVENUE_SHARDS = 16


class LedgerAccount(Base):
    """An account with a balance cached from its entries (updated in O(1) per transfer)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('user_coins', 'user_earnings', 'user_debt', 'platform_revenue', "
            "'purchases_clearing', 'reversals_clearing', 'adjustments')",
            name="kind",
        ),
        CheckConstraint(
            "(owner_id IS NULL) = (kind NOT IN ('user_coins', 'user_earnings', 'user_debt'))",
            name="owner_matches_kind",
        ),
        CheckConstraint(
            "kind NOT IN ('user_coins', 'user_earnings') OR balance >= 0", name="nonnegative"
        ),
        CheckConstraint("kind <> 'user_debt' OR balance <= 0", name="debt_nonpositive"),
        CheckConstraint("unit = 'centicoin'", name="unit"),
        Index("uq_ledger_accounts_owner_kind", "owner_id", "kind", unique=True),
        Index(
            "uq_ledger_accounts_platform_kind_shard",
            "kind",
            "shard",
            unique=True,
            postgresql_where=text("owner_id IS NULL"),
        ),
        CheckConstraint("shard >= 0", name="shard_nonnegative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="RESTRICT")
    )
    kind: Mapped[AccountKind] = mapped_column(StrEnumText(AccountKind, 32))
    shard: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    unit: Mapped[str] = mapped_column(String(16), default="centicoin", server_default="centicoin")
    balance: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()


class LedgerTransaction(Base):
    """One movement of value; unique on (kind, source_ref) so a replay is a no-op."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (UniqueConstraint("kind", "source_ref"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(40))
    source_ref: Mapped[str] = mapped_column(String(200))
    # sha256 of the sorted postings: a replay with other amounts is detected without a join.
    fingerprint: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()


class LedgerEntry(Base):
    """One immutable posting of a transaction to an account."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="nonzero"),
        Index("ix_ledger_entries_account_recent", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id", ondelete="RESTRICT")
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()


class ReconciliationRun(Base):
    """The outcome of one reconciliation of cached balances against the entries."""

    __tablename__ = "ledger_reconciliation_runs"

    id: Mapped[uuid.UUID] = uuid_pk()
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accounts_checked: Mapped[int] = mapped_column(Integer)
    entries_checked: Mapped[int] = mapped_column(BigInteger)
    entries_total: Mapped[int] = mapped_column(BigInteger)
    balances_total: Mapped[int] = mapped_column(BigInteger)
    mismatches: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    ok: Mapped[bool] = mapped_column(Boolean)
