"""Viewer sessions and the stats of a stream: kept while live, saved when it ends.

A session runs from a viewer opening a stream's box to leaving it (closing the box, going
silent past the viewer timeout, or the stream ending). When it closes it is given its
watch seconds and what the viewer did meanwhile: chat messages in the stream's room and
gifts to the stream. A stream's stats are computed from its sessions while it is live and
saved on the stream row when it ends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, and_, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models import ChatMessage, Gift, Stream, ViewerSession
from mylivelinks.models.streams import StreamStatus
from mylivelinks.services.rooms.state import active_viewer_counts, live_seconds, published_seconds


@dataclass(frozen=True)
class StreamStats:
    """A stream's stats, live or ended (duration = seconds live-available)."""

    duration_seconds: int
    current_viewers: int
    peak_viewers: int
    total_views: int
    unique_viewers: int
    average_watch_seconds: int
    chat_messages: int
    gifts_received: int
    gift_coins_received: int
    seconds_published: int


def start_session(stream: Stream, viewer_id: uuid.UUID, now: datetime) -> None:
    """Open the viewer's session (an open one continues) and raise the stream's peak."""
    db.session.execute(
        insert(ViewerSession)
        .values(id=uuid.uuid4(), stream_id=stream.id, viewer_id=viewer_id, joined_at=now)
        .on_conflict_do_nothing(
            index_elements=["stream_id", "viewer_id"], index_where=ViewerSession.left_at.is_(None)
        )
    )
    watching = active_viewer_counts([stream.id], now)[stream.id]
    db.session.execute(
        update(Stream)
        .where(Stream.id == stream.id, Stream.peak_viewers < watching)
        .values(peak_viewers=watching)
        .execution_options(synchronize_session=False)
    )


def close_sessions(
    stream_id: uuid.UUID, viewer_ids: list[uuid.UUID] | None, left_at: datetime
) -> None:
    """Close the open sessions of `viewer_ids` (every viewer: None) on the stream at `left_at`."""
    session, stream = ViewerSession, Stream.__table__
    left = func.greatest(session.joined_at, left_at)
    in_window = lambda column: and_(column >= session.joined_at, column <= left)  # noqa: E731
    messages = (
        select(func.count())
        .select_from(ChatMessage)
        .where(
            ChatMessage.author_id == session.viewer_id,
            ChatMessage.room_id == stream.c.room_id,
            in_window(ChatMessage.created_at),
        )
        .scalar_subquery()
    )
    gift_filter = (
        Gift.sender_id == session.viewer_id,
        Gift.stream_id == session.stream_id,
        in_window(Gift.created_at),
    )
    stmt = (
        update(session)
        .where(session.stream_id == stream_id, session.left_at.is_(None))
        .where(stream.c.id == session.stream_id)
        .values(
            left_at=left,
            watch_seconds=cast(func.extract("epoch", left - session.joined_at), Integer),
            messages_sent=messages,
            gifts_sent=select(func.coalesce(func.sum(Gift.quantity), 0))
            .where(*gift_filter)
            .scalar_subquery(),
            gift_coins_sent=select(func.coalesce(func.sum(Gift.coins), 0))
            .where(*gift_filter)
            .scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    if viewer_ids is not None:
        stmt = stmt.where(session.viewer_id.in_(viewer_ids))
    db.session.execute(stmt)


def _from_sessions(stream: Stream, now: datetime) -> tuple[int, int, int, int]:
    """(total views, unique viewers, average watch seconds, chat messages) so far."""
    session = ViewerSession
    watched = func.coalesce(
        session.watch_seconds, cast(func.extract("epoch", now - session.joined_at), Integer)
    )
    # An open session has no messages_sent yet: count what its viewer said so far, as
    # closing it will, so the figure does not change when the stream ends.
    said_so_far = (
        select(func.count())
        .select_from(ChatMessage)
        .where(
            ChatMessage.author_id == session.viewer_id,
            ChatMessage.room_id == stream.room_id,
            ChatMessage.created_at >= session.joined_at,
            ChatMessage.created_at <= now,
        )
        .scalar_subquery()
    )
    views, unique, average, viewer_messages = db.session.execute(
        select(
            func.count(),
            func.count(session.viewer_id.distinct()),
            func.coalesce(func.avg(watched), 0),
            func.coalesce(func.sum(func.coalesce(session.messages_sent, said_so_far)), 0),
        ).where(session.stream_id == stream.id)
    ).one()
    own_messages = db.session.scalar(
        select(func.count())
        .select_from(ChatMessage)
        .where(
            ChatMessage.author_id == stream.streamer_id,
            ChatMessage.room_id == stream.room_id,
            ChatMessage.created_at >= stream.started_at,
            ChatMessage.created_at <= (stream.ended_at or now),
        )
    )
    return views, unique, round(average), viewer_messages + own_messages


def save_stats(stream: Stream, now: datetime) -> None:
    """Store the session-derived stats on a stream that just ended (sessions closed first)."""
    views, unique, average, messages = _from_sessions(stream, now)
    stream.total_views, stream.unique_viewers = views, unique
    stream.average_watch_seconds, stream.chat_messages = average, messages


def stream_stats(stream: Stream, now: datetime) -> StreamStats:
    """The stream's stats: saved ones once it ended, computed from its sessions while live."""
    live = stream.status == StreamStatus.LIVE
    if live or stream.total_views is None:
        views, unique, average, messages = _from_sessions(stream, now)
    else:
        # Saved together when the stream ended.
        views, unique = stream.total_views, stream.unique_viewers or 0
        average, messages = stream.average_watch_seconds or 0, stream.chat_messages or 0
    return StreamStats(
        duration_seconds=live_seconds(stream, now),
        current_viewers=active_viewer_counts([stream.id], now)[stream.id] if live else 0,
        peak_viewers=stream.peak_viewers,
        total_views=views,
        unique_viewers=unique,
        average_watch_seconds=average,
        chat_messages=messages,
        gifts_received=stream.gifts_received,
        gift_coins_received=stream.gift_coins_received,
        seconds_published=published_seconds(stream, now),
    )
