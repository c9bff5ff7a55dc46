"""The publish controller's decisions: derived state versus the state applied at the provider.

Level-triggered: whatever was lost or reordered, comparing the two and applying the
difference converges. The provider call itself happens in the job, between transactions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, func, or_, select, update

from mylivelinks.extensions import db
from mylivelinks.models import Box, BoxViewer, Room, Stream
from mylivelinks.services.rooms import presence
from mylivelinks.services.rooms.live import end_stream
from mylivelinks.services.rooms.state import active_since, active_viewer_counts
from mylivelinks.services.streams import stats


@dataclass(frozen=True)
class SyncPlan:
    """What the controller must do for one stream (nothing when desired == applied)."""

    stream_id: uuid.UUID
    room_slug: str
    position: int | None
    streamer_id: uuid.UUID
    desired: bool
    applied: bool


def plan_sync(stream_id: uuid.UUID, now: datetime) -> SyncPlan | None:
    """Compare the derived publish state of a stream with the one applied at the provider.

    One write: an ended stream whose streamer is live again in the room is marked revoked
    without a provider call (the provider knows the streamer, not the stream).
    """
    row = db.session.execute(
        select(Stream, Room.slug, Box.position)
        .join(Room, Room.id == Stream.room_id)
        .outerjoin(Box, Box.id == Stream.box_id)
        .where(Stream.id == stream_id)
    ).one_or_none()
    if row is None:
        return None
    stream = row.Stream
    desired = stream.status == "live" and active_viewer_counts([stream.id], now)[stream.id] > 0
    if not desired and stream.status != "live" and _live_again(stream):
        # The provider knows the streamer per room, and they are live there again: revoking
        # now would silence the new stream; its own sync decides.
        record_applied(stream.id, False, now)
        return SyncPlan(stream.id, row.slug, row.position, stream.streamer_id, False, False)
    return SyncPlan(
        stream.id, row.slug, row.position, stream.streamer_id, desired, stream.publishing_applied
    )


def _live_again(stream: Stream) -> bool:
    return (
        db.session.scalar(
            select(Stream.id).where(
                Stream.room_id == stream.room_id,
                Stream.streamer_id == stream.streamer_id,
                Stream.status == "live",
            )
        )
        is not None
    )


def record_applied(stream_id: uuid.UUID, allowed: bool, now: datetime) -> bool:
    """Remember that the provider now has `allowed`; False if it was already recorded."""
    if allowed:
        # An allow that lands after the stream ended is not published time.
        values = {
            "publishing_applied": True,
            "published_since": case((Stream.status == "live", now), else_=None),
        }
    else:
        elapsed = func.coalesce(
            func.floor(func.extract("epoch", now - Stream.published_since)), 0
        ).cast(db.BigInteger)
        values = {
            "publishing_applied": False,
            "published_since": None,
            "published_seconds": Stream.published_seconds + elapsed,
        }
    changed = db.session.execute(
        update(Stream)
        .where(Stream.id == stream_id, Stream.publishing_applied.is_(not allowed))
        .values(**values)
        .returning(Stream.id)
    ).scalar()
    return changed is not None


@dataclass(frozen=True)
class SeatChange:
    """A stream the sweep ended (or seated from the queue), as clients are told of it."""

    room_slug: str
    position: int | None
    stream_id: uuid.UUID
    streamer_id: uuid.UUID


@dataclass(frozen=True)
class SweepResult:
    """What one sweep removed and which streams it found out of sync."""

    stale_viewers: int
    ended_streams: list[SeatChange]
    seated_streams: list[SeatChange]
    out_of_sync: list[uuid.UUID]


def remove_silent_viewers(now: datetime) -> list[uuid.UUID]:
    """Delete viewers silent past the timeout; returns the streams that lost one (per row).

    A row younger than the timeout is kept even without a heartbeat in Redis yet.
    """
    since = active_since(now)
    stream_ids = db.session.scalars(select(BoxViewer.stream_id).distinct()).all()
    heartbeating = presence.active_viewers(stream_ids, since)
    removed: list[uuid.UUID] = []
    for stream_id in stream_ids:
        silent = db.session.scalars(
            delete(BoxViewer)
            .where(
                BoxViewer.stream_id == stream_id,
                BoxViewer.viewer_id.not_in(heartbeating[stream_id]),
                BoxViewer.joined_at < since,
            )
            .returning(BoxViewer.viewer_id)
        ).all()
        if silent:
            # They were last seen before `since`: their sessions end there at the latest.
            stats.close_sessions(stream_id, list(silent), since)
        removed += [stream_id] * len(silent)
    presence.drop_silent_viewers(stream_ids, since)
    return removed


def end_silent_streamers(now: datetime) -> tuple[list[SeatChange], list[SeatChange]]:
    """End streams silent past the timeout (each under its room lock); (ended, seated)."""
    cutoff = now - timedelta(seconds=current_app.config["STREAMER_TIMEOUT_SECONDS"])
    candidates = db.session.scalars(
        select(Stream.id).where(Stream.status == "live", Stream.started_at < cutoff)
    ).all()
    last_seen = presence.streamers_last_seen(candidates)
    silent_ids = [
        stream_id
        for stream_id in candidates
        if last_seen[stream_id] is None or last_seen[stream_id] < cutoff.timestamp()
    ]
    silent = db.session.scalars(select(Stream).where(Stream.id.in_(silent_ids))).all()
    ended, seated = end_streams(silent, "heartbeat_timeout", now)
    presence.drop_silent_streamers(cutoff)
    return ended, seated


def end_streams(
    streams: list[Stream], reason: str, now: datetime, *, status: str = "ended"
) -> tuple[list[SeatChange], list[SeatChange]]:
    """End each stream (under its room lock) for `reason`; (ended, seated from the queue).

    A stream someone else ended first is left out.
    """
    ended, seated = [], []
    for stream in streams:
        slug, position = db.session.execute(
            select(Room.slug, Box.position)
            .select_from(Room)
            .outerjoin(Box, Box.id == stream.box_id)
            .where(Room.id == stream.room_id)
        ).one()
        successor = end_stream(stream, reason=reason, now=now, status=status)
        if stream.ended_reason != reason:
            continue
        ended.append(SeatChange(slug, position, stream.id, stream.streamer_id))
        if successor is not None:
            seated.append(SeatChange(slug, position, successor.id, successor.streamer_id))
    db.session.flush()
    return ended, seated


def out_of_sync_streams(now: datetime) -> list[uuid.UUID]:
    """Streams whose derived publish state differs from the one applied at the provider."""
    candidates = db.session.scalars(
        select(Stream).where(or_(Stream.status == "live", Stream.publishing_applied.is_(True)))
    ).all()
    counts = active_viewer_counts([s.id for s in candidates], now)
    return [
        s.id
        for s in candidates
        if (s.status == "live" and counts[s.id] > 0) != s.publishing_applied
    ]


def viewer_counts(stream_ids: set[uuid.UUID], now: datetime) -> list[tuple]:
    """(stream id, room slug, box position, active viewers) of the live streams given."""
    if not stream_ids:
        return []
    rows = db.session.execute(
        select(Stream.id, Room.slug, Box.position)
        .join(Room, Room.id == Stream.room_id)
        .join(Box, Box.id == Stream.box_id)
        .where(Stream.id.in_(stream_ids), Stream.status == "live")
    ).all()
    counts = active_viewer_counts([row.id for row in rows], now)
    return [(row.id, row.slug, row.position, counts[row.id]) for row in rows]
