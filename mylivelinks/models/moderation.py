"""Room bans and timeouts, and the audit trail of every moderator action."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, created_at_column, uuid_pk


class RoomBan(Base):
    """A user kept out of a room: a ban (no end: chat, boxes, going live) or a chat timeout."""

    __tablename__ = "room_bans"
    __table_args__ = (UniqueConstraint("room_id", "profile_id", name="uq_room_bans_room_profile"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    profile_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    # None: a ban until lifted; a time: a timeout that ends by itself then.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()

    @property
    def is_ban(self) -> bool:
        """True for a ban (until lifted), False for a timeout."""
        return self.expires_at is None


class ModerationAction(Base):
    """One moderator action, kept for admins to read."""

    __tablename__ = "moderation_actions"
    __table_args__ = (Index("ix_moderation_actions_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    moderator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(32))
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    target_profile_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()
