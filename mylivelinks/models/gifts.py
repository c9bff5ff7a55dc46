"""The gift catalog (seeded, then editable by admins) and the gifts sent."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class GiftAnimation(StrEnum):
    """How a gift is shown in the room."""

    FLOAT = "float"
    BURST = "burst"
    FIREWORKS = "fireworks"
    CONFETTI = "confetti"


class GiftRarity(StrEnum):
    """How rare a gift type is presented as."""

    COMMON = "common"
    RARE = "rare"
    EPIC = "epic"
    LEGENDARY = "legendary"


class GiftType(Base):
    """A kind of gift viewers can send, with its price in coins and its presentation."""

    __tablename__ = "gift_types"
    __table_args__ = (
        CheckConstraint("coin_cost > 0", name="coin_cost_positive"),
        CheckConstraint(
            "animation IN ('float', 'burst', 'fireworks', 'confetti')", name="animation"
        ),
        CheckConstraint("rarity IN ('common', 'rare', 'epic', 'legendary')", name="rarity"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(50), unique=True)
    emoji: Mapped[str] = mapped_column(String(16))
    coin_cost: Mapped[int] = mapped_column(BigInteger)
    animation: Mapped[GiftAnimation] = mapped_column(StrEnumText(GiftAnimation, 16))
    rarity: Mapped[GiftRarity] = mapped_column(StrEnumText(GiftRarity, 16))
    sort_order: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()


class Gift(Base):
    """One gift sent: who to whom (in which stream and box), what, and the exact split."""

    __tablename__ = "gifts"
    # INSERT ... RETURNING created_at: the response shows it without another query.
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 9999", name="quantity"),
        CheckConstraint(
            "streamer_share_centicoins + platform_share_centicoins = coins * 100", name="split"
        ),
        Index("ix_gifts_stream_sender", "stream_id", "sender_id"),
        Index("ix_gifts_recipient_created", "recipient_id", "created_at"),
        Index("ix_gifts_sender_created", "sender_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="RESTRICT"))
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="RESTRICT"))
    stream_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("streams.id", ondelete="SET NULL")
    )
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    position: Mapped[int | None] = mapped_column(Integer)
    gift_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gift_types.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    coins: Mapped[int] = mapped_column(BigInteger)
    streamer_share_centicoins: Mapped[int] = mapped_column(BigInteger)
    platform_share_centicoins: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = created_at_column()

    gift_type: Mapped[GiftType] = relationship()
