"""Room chat: messages (user, system and gift lines) and reports of messages or users."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class MessageKind(StrEnum):
    """Who wrote a chat line: a user, the room itself, or a gift."""

    USER = "user"
    SYSTEM = "system"
    GIFT = "gift"


class ReportTarget(StrEnum):
    """What a report is about."""

    MESSAGE = "message"
    USER = "user"


class ReportStatus(StrEnum):
    """Whether a report still waits for a moderator."""

    OPEN = "open"
    RESOLVED = "resolved"


class ReportOutcome(StrEnum):
    """What the moderator who resolved a report decided."""

    DISMISSED = "dismissed"  # nothing against the rules
    ACTIONED = "actioned"  # the moderator acted (deleted, timed out, banned)


MAX_MESSAGE_LENGTH = 500


class ChatMessage(Base):
    """One line of a room's chat; deleted ones stay, hidden from history."""

    __tablename__ = "chat_messages"
    # INSERT ... RETURNING created_at: the response shows it without another query.
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint("kind IN ('user', 'system', 'gift')", name="kind"),
        CheckConstraint("char_length(body) BETWEEN 1 AND 500", name="body_length"),
        Index(
            "ix_chat_messages_room_history",
            "room_id",
            "created_at",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_chat_messages_author_created", "author_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    kind: Mapped[MessageKind] = mapped_column(
        StrEnumText(MessageKind, 16), default=MessageKind.USER, server_default=MessageKind.USER
    )
    body: Mapped[str] = mapped_column(String(MAX_MESSAGE_LENGTH))
    created_at: Mapped[datetime] = created_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )


class Report(Base):
    """A user's report of a message or another user, for moderators to review.

    One reporter has at most one open report per target: reporting it again is the same
    report (the partial unique index).
    """

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint("target_type IN ('message', 'user')", name="target_type"),
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        CheckConstraint("outcome IN ('dismissed', 'actioned')", name="outcome"),
        CheckConstraint("(status = 'open') = (outcome IS NULL)", name="outcome_when_resolved"),
        Index("ix_reports_queue", "status", "created_at", "id"),
        Index(
            "uq_reports_open_reporter_target",
            "reporter_id",
            "target_type",
            "target_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    target_type: Mapped[ReportTarget] = mapped_column(StrEnumText(ReportTarget, 16))
    target_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[ReportStatus] = mapped_column(
        StrEnumText(ReportStatus, 16), default=ReportStatus.OPEN, server_default=ReportStatus.OPEN
    )
    created_at: Mapped[datetime] = created_at_column()
    outcome: Mapped[ReportOutcome | None] = mapped_column(StrEnumText(ReportOutcome, 16))
    resolution_note: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
