"""Leaderboards as last rebuilt from the gifts: each board's header and every ranked profile.

Both tables are replaced together, in one transaction, by `services.leaderboards.rebuild`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mylivelinks.models.base import Base, StrEnumText


class Board(StrEnum):
    """Who a leaderboard ranks: streamers by coins received, gifters by coins sent."""

    STREAMERS = "streamers"
    GIFTERS = "gifters"


class Period(StrEnum):
    """The time window a leaderboard covers."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    ALL_TIME = "all_time"


BOARDS = tuple(Board)
PERIODS = tuple(Period)

_BOARD_CHECK = "board IN ('streamers', 'gifters')"
_PERIOD_CHECK = "period IN ('day', 'week', 'month', 'all_time')"


class Leaderboard(Base):
    """One board for one period: its bounds and when it was last computed (even if empty)."""

    __tablename__ = "leaderboards"
    __table_args__ = (
        CheckConstraint(_BOARD_CHECK, name="board"),
        CheckConstraint(_PERIOD_CHECK, name="period"),
    )

    board: Mapped[Board] = mapped_column(StrEnumText(Board, 16), primary_key=True)
    period: Mapped[Period] = mapped_column(StrEnumText(Period, 16), primary_key=True)
    # [period_start, period_end); both NULL for all_time.
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LeaderboardEntry(Base):
    """One ranked profile of a board and period: every profile with a score is stored."""

    __tablename__ = "leaderboard_entries"
    __table_args__ = (
        CheckConstraint(_BOARD_CHECK, name="board"),
        CheckConstraint(_PERIOD_CHECK, name="period"),
        CheckConstraint("rank >= 1", name="rank_positive"),
        CheckConstraint("score > 0", name="score_positive"),
        # Also the index of a profile's ranks (profile pages).
        UniqueConstraint(
            "profile_id", "board", "period", name="uq_leaderboard_entries_profile_board_period"
        ),
    )

    board: Mapped[Board] = mapped_column(StrEnumText(Board, 16), primary_key=True)
    period: Mapped[Period] = mapped_column(StrEnumText(Period, 16), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
