"""Notifications stored for a user (and pushed on their private event stream)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class NotificationKind(StrEnum):
    """What a notification tells its recipient."""

    WENT_LIVE = "went_live"
    SEATED = "seated"


class Notification(Base):
    """One notice to `recipient_id`; `data` depends on `kind`.

    A stream notifies each recipient at most once per kind (the unique key), so a fan-out
    that runs again inserts nothing new.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("kind IN ('went_live', 'seated')", name="kind"),
        UniqueConstraint(
            "recipient_id", "kind", "stream_id", name="uq_notifications_recipient_kind_stream"
        ),
        Index("ix_notifications_recipient_recent", "recipient_id", "created_at", "id"),
        Index("ix_notifications_unread", "recipient_id", postgresql_where=text("read_at IS NULL")),
        # A stream's deletion (with its streamer's profile) cascades here.
        Index("ix_notifications_stream", "stream_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(StrEnumText(NotificationKind, 32))
    stream_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("streams.id", ondelete="CASCADE")
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
