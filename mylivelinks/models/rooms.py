"""Rooms (the group room and solo pages) and their numbered boxes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class RoomKind(StrEnum):
    """The group room `main`, or a streamer's solo page."""

    GROUP = "group"
    SOLO = "solo"


MAX_BOXES = 12


class Room(Base):
    """A room at the media provider: the group room `main` or a streamer's solo page."""

    __tablename__ = "rooms"
    __table_args__ = (
        CheckConstraint("kind IN ('group', 'solo')", name="kind"),
        CheckConstraint("box_count BETWEEN 1 AND 12", name="box_count_range"),
        CheckConstraint("slug = lower(slug)", name="slug_lowercase"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[RoomKind] = mapped_column(StrEnumText(RoomKind, 16))
    box_count: Mapped[int] = mapped_column(Integer)
    # Solo rooms belong to a streamer; the group room has no owner.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = created_at_column()
    # Totals of the room's ended streams; live streams add their running figures on read.
    ended_live_seconds: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    ended_published_seconds: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Chat settings moderators change: seconds between one user's messages, blocked terms.
    slow_mode_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Guests (`POST /auth/guest`, no account) may open boxes here.
    anonymous_viewing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    blocked_terms: Mapped[list[str]] = mapped_column(
        ARRAY(String(50)), default=list, server_default="{}"
    )

    boxes: Mapped[list[Box]] = relationship(
        back_populates="room",
        order_by="Box.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Box(Base):
    """One numbered slot of a room that a streamer can occupy."""

    __tablename__ = "boxes"
    __table_args__ = (
        CheckConstraint("position BETWEEN 1 AND 12", name="position_range"),
        UniqueConstraint("room_id", "position"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)

    room: Mapped[Room] = relationship(back_populates="boxes")
