"""The periodic sweep: silent viewers and streamers removed, streams out of sync resynced.

Three steps, each meant for a transaction of its own (the job commits between them), so
viewer rows are never locked while a room lock is awaited. What each step changes is
announced once committed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select

from mylivelinks.extensions import db
from mylivelinks.models import Box, BoxViewer, Room, Stream
from mylivelinks.models.streams import EndedReason, StreamStatus
from mylivelinks.services.rooms import announcements, presence
from mylivelinks.services.rooms.live import SeatChange, end_streams
from mylivelinks.services.rooms.state import active_since, active_viewer_counts
from mylivelinks.services.streams import stats


def remove_silent_viewers(now: datetime) -> list[uuid.UUID]:
    """Delete viewers silent past the timeout, each announced as leaving its box once
    committed; returns the streams that lost one (per row).

    A row younger than the timeout is kept even without a heartbeat in Redis yet, and so
    is every row while Redis has recorded presence for less than the timeout (it lost its
    data): no one can be told silent for that long yet.
    """
    since = active_since(now)
    stream_ids = db.session.scalars(select(BoxViewer.stream_id).distinct()).all()
    heartbeating = presence.active_viewers(list(stream_ids), since)
    if heartbeating is None:
        return []
    removed: dict[uuid.UUID, list[uuid.UUID]] = {}
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
            removed[stream_id] = list(silent)
    presence.drop_silent_viewers(list(stream_ids), since)
    for stream_id, slug, position, count in viewer_counts(set(removed), now):
        announcements.viewers_timed_out(slug, position, stream_id, removed[stream_id], count)
    return [stream_id for stream_id, viewers in removed.items() for _ in viewers]


def end_silent_streamers(now: datetime) -> list[SeatChange]:
    """End streams silent past the timeout (each under its room lock); the ended ones.

    None while Redis has recorded presence for less than the timeout (it lost its data).
    """
    cutoff = now - timedelta(seconds=current_app.config["STREAMER_TIMEOUT_SECONDS"])
    if not presence.recorded_since(cutoff):
        return []
    candidates = db.session.scalars(
        select(Stream.id).where(Stream.status == StreamStatus.LIVE, Stream.started_at < cutoff)
    ).all()
    last_seen = presence.streamers_last_seen(list(candidates))
    silent_ids = [
        stream_id
        for stream_id, seen in last_seen.items()
        if seen is None or seen < cutoff.timestamp()
    ]
    silent = db.session.scalars(select(Stream).where(Stream.id.in_(silent_ids))).all()
    ended, _ = end_streams(list(silent), EndedReason.HEARTBEAT_TIMEOUT, now)
    presence.drop_silent_streamers(cutoff)
    return ended


def resync(now: datetime) -> list[uuid.UUID]:
    """Queue a sync of every stream out of sync (once committed); returns them."""
    streams = out_of_sync_streams(now)
    for stream_id in streams:
        announcements.out_of_sync(stream_id)
    return streams


def out_of_sync_streams(now: datetime) -> list[uuid.UUID]:
    """Streams whose derived publish state differs from the one applied at the provider, or
    whose state at the provider is unknown (a sync died during its provider call)."""
    candidates = db.session.scalars(
        select(Stream).where(
            or_(
                Stream.status == StreamStatus.LIVE,
                Stream.publishing_applied.is_(True),
                Stream.publishing_intent.is_not(None),
            )
        )
    ).all()
    counts = active_viewer_counts([s.id for s in candidates], now)
    return [
        s.id
        for s in candidates
        if (s.status == StreamStatus.LIVE and counts[s.id] > 0) != s.publishing_applied
        or s.publishing_intent is not None
    ]


def viewer_counts(
    stream_ids: set[uuid.UUID], now: datetime
) -> list[tuple[uuid.UUID, str, int, int]]:
    """(stream id, room slug, box position, active viewers) of the live streams given."""
    if not stream_ids:
        return []
    rows = db.session.execute(
        select(Stream.id, Room.slug, Box.position)
        .join(Room, Room.id == Stream.room_id)
        .join(Box, Box.id == Stream.box_id)
        .where(Stream.id.in_(stream_ids), Stream.status == StreamStatus.LIVE)
    ).all()
    counts = active_viewer_counts([row.id for row in rows], now)
    return [(row.id, row.slug, row.position, counts[row.id]) for row in rows]
