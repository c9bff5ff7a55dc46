"""Verified media-vendor webhooks, normalised and applied once by a job."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, created_at_column, uuid_pk

MEDIA_EVENT_KINDS = (
    "participant_joined",
    "participant_left",
    "track_published",
    "track_unpublished",
    "room_finished",
)


class MediaEventRecord(Base):
    """One vendor event (participant joined/left, track published, room finished)."""

    __tablename__ = "media_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_media_events_provider_event"),
        CheckConstraint("status IN ('received', 'processed', 'failed')", name="status"),
        Index("ix_media_events_participant", "provider", "room", "identity", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    room: Mapped[str] = mapped_column(String(255))
    identity: Mapped[str | None] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    status: Mapped[str] = mapped_column(String(16), default="received", server_default="received")
    # What applying it did (ended a stream, re-revoked, nothing), or the error.
    outcome: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
