"""Streams (one Go-Live session each), the viewers of a box and their sessions, and a room's
waiting queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class StreamStatus(StrEnum):
    """Where a stream is in its life; the text stored in `streams.status`."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"
    ERROR = "error"


class EndedReason(StrEnum):
    """Why a stream ended; the text stored in `streams.ended_reason`."""

    ENDED_BY_STREAMER = "ended_by_streamer"
    BANNED = "banned"
    HEARTBEAT_TIMEOUT = "heartbeat_timeout"
    PROVIDER_ROOM_FINISHED = "provider_room_finished"
    PROVIDER_LEFT = "provider_left"
    PROVIDER_REJECTED = "provider_rejected"


class Stream(Base):
    """A streamer live-available in a box; publishing follows the box's viewers."""

    __tablename__ = "streams"
    __table_args__ = (
        CheckConstraint(
            "status IN ('scheduled', 'live', 'ended', 'cancelled', 'error')", name="status"
        ),
        # One live stream per streamer, and one live stream per box.
        Index(
            "uq_streams_live_streamer",
            "streamer_id",
            unique=True,
            postgresql_where=text("status = 'live'"),
        ),
        Index(
            "uq_streams_live_box", "box_id", unique=True, postgresql_where=text("status = 'live'")
        ),
        Index("ix_streams_room_status", "room_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    streamer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    box_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("boxes.id", ondelete="SET NULL"))
    title: Mapped[str | None] = mapped_column(String(140))
    status: Mapped[StreamStatus] = mapped_column(
        StrEnumText(StreamStatus, 16), default=StreamStatus.LIVE, server_default=StreamStatus.LIVE
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_reason: Mapped[EndedReason | None] = mapped_column(StrEnumText(EndedReason, 32))
    # The publishing state last applied at the provider (the controller's memory), and since
    # when it has been published; published seconds accumulate when it is revoked.
    publishing_applied: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The state a sync is applying at the provider right now: set and committed before the
    # call, cleared with the record of its outcome. Left set, the call's outcome is unknown
    # (its worker died) and the next sync asserts the derived state again.
    publishing_intent: Mapped[bool | None] = mapped_column(Boolean)
    published_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_seconds: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    gifts_received: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    gift_coins_received: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Most viewers at once, kept while live; the rest of the stats are saved when it ends
    # (null until then: a live stream's are computed from its viewer sessions).
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_views: Mapped[int | None] = mapped_column(Integer)
    unique_viewers: Mapped[int | None] = mapped_column(Integer)
    average_watch_seconds: Mapped[int | None] = mapped_column(Integer)
    chat_messages: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()


class ViewerSession(Base):
    """One viewer watching one stream, from opening its box to leaving (for analytics)."""

    __tablename__ = "viewer_sessions"
    __table_args__ = (
        # At most one open session per viewer and stream: reopening a box continues it.
        Index(
            "uq_viewer_sessions_open",
            "stream_id",
            "viewer_id",
            unique=True,
            postgresql_where=text("left_at IS NULL"),
        ),
        Index("ix_viewer_sessions_viewer", "viewer_id", "joined_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stream_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("streams.id", ondelete="CASCADE"))
    # Null once the viewer is gone (a purged guest): the session still counts in the stats.
    viewer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    watch_seconds: Mapped[int | None] = mapped_column(Integer)
    messages_sent: Mapped[int | None] = mapped_column(Integer)
    gifts_sent: Mapped[int | None] = mapped_column(Integer)
    gift_coins_sent: Mapped[int | None] = mapped_column(BigInteger)


class BoxViewer(Base):
    """A viewer with a box open; active while their heartbeat (in Redis) is recent."""

    __tablename__ = "box_viewers"
    __table_args__ = (
        UniqueConstraint("stream_id", "viewer_id"),
        Index("ix_box_viewers_viewer", "viewer_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stream_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("streams.id", ondelete="CASCADE"))
    viewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RoomQueueEntry(Base):
    """A streamer waiting for a box in a full room, first come first served."""

    __tablename__ = "room_queue"
    __table_args__ = (
        UniqueConstraint("streamer_id"),
        Index("ix_room_queue_order", "room_id", "queued_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    streamer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(140))
    queued_at: Mapped[datetime] = created_at_column()
