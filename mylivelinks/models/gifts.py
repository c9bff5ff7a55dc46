"""The gift catalog: seeded, then editable by admins."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, created_at_column, uuid_pk

GIFT_ANIMATIONS = ("float", "burst", "fireworks", "confetti")
GIFT_RARITIES = ("common", "rare", "epic", "legendary")


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
    animation: Mapped[str] = mapped_column(String(16))
    rarity: Mapped[str] = mapped_column(String(16))
    sort_order: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()
