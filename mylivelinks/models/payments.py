"""Coin purchases and the raw webhook events of payment providers."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class PurchaseStatus(StrEnum):
    """A coin purchase's state, derived from the provider's facts."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    DISPUTED = "disputed"
    CHARGEBACK = "chargeback"
    FLAGGED = "flagged"


class DisputeState(StrEnum):
    """Where a payment's dispute (chargeback) stands."""

    NONE = "none"
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class PaymentEventStatus(StrEnum):
    """How far a received payment webhook has been applied."""

    RECEIVED = "received"
    DEFERRED = "deferred"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class CoinPurchase(Base):
    """One purchase of a coin pack: the facts the provider reported and what was applied.

    `status` is derived from the facts (paid, refunded amount, dispute), never set directly,
    so events applied in any order reach the same state.
    """

    __tablename__ = "coin_purchases"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'confirmed', 'refunded', 'partially_refunded', 'disputed', "
            "'chargeback', 'flagged')",
            name="status",
        ),
        CheckConstraint("dispute IN ('none', 'open', 'won', 'lost')", name="dispute"),
        CheckConstraint("coins > 0 AND price_cents > 0", name="positive_pack"),
        CheckConstraint("refunded_cents >= 0", name="refunded_nonnegative"),
        CheckConstraint(
            "coins_reversed >= 0 AND coins_reversed <= coins_credited", name="reversal_bounds"
        ),
        CheckConstraint("coins_restored >= 0", name="restored_nonnegative"),
        UniqueConstraint(
            "provider", "provider_payment_id", name="uq_coin_purchases_provider_payment"
        ),
        UniqueConstraint(
            "provider", "provider_session_id", name="uq_coin_purchases_provider_session"
        ),
        Index("ix_coin_purchases_profile_recent", "profile_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    profile_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16))
    pack_id: Mapped[str] = mapped_column(String(64))
    coins: Mapped[int] = mapped_column(BigInteger)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PurchaseStatus] = mapped_column(
        StrEnumText(PurchaseStatus, 24),
        default=PurchaseStatus.PENDING,
        server_default=PurchaseStatus.PENDING,
    )
    # The store's id of what was bought: Stripe's checkout session, Google's purchase token.
    provider_session_id: Mapped[str | None] = mapped_column(Text)
    # The store's payment id: Stripe's PaymentIntent, Apple's transactionId, Google's orderId.
    provider_payment_id: Mapped[str | None] = mapped_column(String(255))
    checkout_url: Mapped[str | None] = mapped_column(Text)
    # Facts reported by the provider.
    paid_cents: Mapped[int | None] = mapped_column(BigInteger)
    paid_currency: Mapped[str | None] = mapped_column(String(3))
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    dispute: Mapped[DisputeState] = mapped_column(
        StrEnumText(DisputeState, 8), default=DisputeState.NONE, server_default=DisputeState.NONE
    )
    flagged_reason: Mapped[str | None] = mapped_column(Text)
    # What the ledger already reflects, in whole coins.
    coins_credited: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    coins_reversed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Coins given back when a store reversed its refund (App Store REFUND_REVERSED).
    coins_restored: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The store's time of the refund state applied last (stores whose refunds can be undone).
    refund_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the store confirmed we delivered it (Google's consume), where it expects that.
    store_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PaymentEvent(Base):
    """A provider webhook exactly as received, applied once by a job."""

    __tablename__ = "payment_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        CheckConstraint(
            "status IN ('received', 'deferred', 'processed', 'ignored', 'failed')", name="status"
        ),
        Index(
            "ix_payment_events_unprocessed",
            "received_at",
            postgresql_where=text("status IN ('received', 'deferred')"),
        ),
        Index("ix_payment_events_payment_ref", "provider", "payment_ref"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    # The provider's payment id the event is about, when the payload names it.
    payment_ref: Mapped[str | None] = mapped_column(Text)
    # What the store answered when asked about the event's purchase before applying it
    # (Google's notifications name a purchase token only).
    store_record: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The body exactly as received (the signature covers these bytes) and its parsed form.
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[PaymentEventStatus] = mapped_column(
        StrEnumText(PaymentEventStatus, 16),
        default=PaymentEventStatus.RECEIVED,
        server_default=PaymentEventStatus.RECEIVED,
    )
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyRecord(Base):
    """The stored response of a money-moving request sent with an Idempotency-Key."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("profile_id", "key"),
        Index("ix_idempotency_records_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    profile_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column()
    body: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()


class StoreSyncMark(Base):
    """How far a periodic read of a store's list (Google's voided purchases) has got."""

    __tablename__ = "store_sync_marks"

    # What is read, e.g. "google:voided_purchases".
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The end of the last window read whole: the next read starts a little before it.
    synced_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
