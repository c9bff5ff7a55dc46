"""Verified media-vendor webhooks, normalised and applied once by a job."""

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
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class MediaEventKind(StrEnum):
    """What a media vendor reported, in vendor-neutral terms."""

    PARTICIPANT_JOINED = "participant_joined"
    PARTICIPANT_LEFT = "participant_left"
    TRACK_PUBLISHED = "track_published"
    TRACK_UNPUBLISHED = "track_unpublished"
    ROOM_FINISHED = "room_finished"


class MediaEventStatus(StrEnum):
    """Whether a received media event has been applied."""

    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"


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
    # The vendor's own order of this participant's events (Agora's clientSeq), where it
    # gives one: timestamps are whole seconds, so a leave and a rejoin often share one.
    sequence: Mapped[int | None] = mapped_column(BigInteger)
    # Whether the vendor reports the participant able to publish (Agora's broadcaster
    # role), where the event says so.
    can_publish: Mapped[bool | None] = mapped_column(Boolean)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    status: Mapped[MediaEventStatus] = mapped_column(
        StrEnumText(MediaEventStatus, 16),
        default=MediaEventStatus.RECEIVED,
        server_default=MediaEventStatus.RECEIVED,
    )
    # What applying it did (ended a stream, re-revoked, nothing), or the error.
    outcome: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
