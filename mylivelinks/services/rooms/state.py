"""Rooms and their boxes: lookup, solo rooms on demand, and the room as clients see it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models import Box, BoxViewer, Profile, Room, RoomQueueEntry, Stream
from mylivelinks.models.streams import StreamStatus
from mylivelinks.services.errors import Forbidden, NotFound
from mylivelinks.services.rooms import presence


def get_room(slug: str, *, lock: bool = False) -> Room:
    """The room called `slug`, or NotFound; `lock` serialises seat changes in the room."""
    stmt = select(Room).where(Room.slug == slug.lower())
    if lock:
        # FOR NO KEY UPDATE: seat changes wait for each other, while gifts and chat lines
        # still insert rows that refer to the room (their foreign-key checks take KEY SHARE).
        stmt = stmt.with_for_update(key_share=True)
    room = db.session.scalar(stmt)
    if room is None:
        raise NotFound(f"No room is called {slug!r}.")
    return room


def room_for_going_live(slug: str, streamer: Profile) -> Room:
    """The room to go live in, locked; a streamer's own solo room is created on demand."""
    if slug.lower() == streamer.username:
        db.session.execute(
            insert(Room)
            .values(
                id=uuid.uuid4(),
                slug=streamer.username,
                name=f"{streamer.display_name or streamer.username}",
                kind="solo",
                box_count=1,
                owner_id=streamer.id,
            )
            .on_conflict_do_nothing(index_elements=["slug"])
        )
        room = get_room(slug)
        db.session.execute(
            insert(Box)
            .values(id=uuid.uuid4(), room_id=room.id, position=1)
            .on_conflict_do_nothing(index_elements=["room_id", "position"])
        )
    room = get_room(slug, lock=True)
    if room.kind == "solo" and room.owner_id != streamer.id:
        raise Forbidden("Only its owner goes live in a solo room.")
    return room


def box_at(room: Room, position: int) -> Box:
    """The room's box at `position`, or NotFound for a position outside the room."""
    box = db.session.scalar(select(Box).where(Box.room_id == room.id, Box.position == position))
    if box is None:
        raise NotFound(f"Room {room.slug} has no box {position}.")
    return box


def someone_live_in(slug: str) -> bool:
    """Whether any stream is live in the room called `slug`."""
    live = db.session.scalar(
        select(Stream.id)
        .join(Room, Room.id == Stream.room_id)
        .where(Room.slug == slug, Stream.status == StreamStatus.LIVE)
        .limit(1)
    )
    return live is not None


def live_positions(slug: str) -> list[int]:
    """The boxes of the room called `slug` that have a live stream."""
    return list(
        db.session.scalars(
            select(Box.position)
            .join(Stream, (Stream.box_id == Box.id) & (Stream.status == StreamStatus.LIVE))
            .join(Room, Room.id == Box.room_id)
            .where(Room.slug == slug)
            .order_by(Box.position)
        )
    )


def likely_box(slug: str, requested: int | None) -> int | None:
    """The box going live in `slug` will most likely take: the requested one, else the lowest
    free one (1 for a solo room not created yet); None when the room is full."""
    if requested is not None:
        return requested
    room = db.session.scalar(select(Room).where(Room.slug == slug))
    if room is None:
        return 1
    taken = set(live_positions(slug))
    return next((n for n in range(1, room.box_count + 1) if n not in taken), None)


def active_since(now: datetime) -> datetime:
    """Heartbeats at or after this instant count as active viewers."""
    return now - timedelta(seconds=current_app.config["VIEWER_TIMEOUT_SECONDS"])


def active_viewers(stream_ids: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, set]:
    """Viewer ids per stream with the box open (a row) and a recent heartbeat (presence).

    Every row counts while Redis has recorded presence for less than the viewer timeout
    (it lost its data): none of them can be told silent yet.
    """
    if not stream_ids:
        return {}
    heartbeating = presence.active_viewers(stream_ids, active_since(now))
    query = select(BoxViewer.stream_id, BoxViewer.viewer_id).where(
        BoxViewer.stream_id.in_(stream_ids)
    )
    if heartbeating is not None:
        query = query.where(BoxViewer.viewer_id.in_(set().union(*heartbeating.values())))
    active: dict[uuid.UUID, set] = {stream_id: set() for stream_id in stream_ids}
    for stream_id, viewer_id in db.session.execute(query).all():
        if heartbeating is None or viewer_id in heartbeating[stream_id]:
            active[stream_id].add(viewer_id)
    return active


def active_viewer_counts(stream_ids: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, int]:
    """Active viewers per stream (the source of the derived publish state)."""
    return {stream_id: len(ids) for stream_id, ids in active_viewers(stream_ids, now).items()}


@dataclass(frozen=True)
class BoxState:
    """One box as the room endpoint shows it."""

    position: int
    stream: Stream | None
    streamer: Profile | None
    viewer_count: int

    @property
    def is_published(self) -> bool:
        """Derived from the viewers: published while at least one is watching."""
        return self.stream is not None and self.viewer_count > 0


@dataclass(frozen=True)
class RoomState:
    """A room with its boxes, queue and the saving of demand-based publishing."""

    room: Room
    boxes: list[BoxState]
    queue_length: int
    seconds_live_available: int
    seconds_published: int


def published_seconds(stream: Stream, now: datetime) -> int:
    """Seconds the stream has been published so far."""
    running = (now - stream.published_since).total_seconds() if stream.published_since else 0
    return stream.published_seconds + int(running)


def live_seconds(stream: Stream, now: datetime) -> int:
    """Seconds the stream has been live-available so far."""
    if stream.started_at is None:
        return 0
    return int(((stream.ended_at or now) - stream.started_at).total_seconds())


def room_state(room: Room, now: datetime) -> RoomState:
    """The room's boxes with occupants, viewer counts and derived publish state."""
    rows = db.session.execute(
        select(Box, Stream, Profile)
        .outerjoin(Stream, (Stream.box_id == Box.id) & (Stream.status == StreamStatus.LIVE))
        .outerjoin(Profile, Profile.id == Stream.streamer_id)
        .where(Box.room_id == room.id)
        .order_by(Box.position)
    ).all()
    streams = [row.Stream for row in rows if row.Stream is not None]
    counts = active_viewer_counts([s.id for s in streams], now)
    boxes = [
        BoxState(
            row.Box.position,
            row.Stream,
            row.Profile,
            counts.get(row.Stream.id, 0) if row.Stream else 0,
        )
        for row in rows
    ]
    queue_length = db.session.execute(
        select(func.count()).select_from(RoomQueueEntry).where(RoomQueueEntry.room_id == room.id)
    ).scalar_one()
    return RoomState(
        room=room,
        boxes=boxes,
        queue_length=queue_length,
        seconds_live_available=room.ended_live_seconds + sum(live_seconds(s, now) for s in streams),
        seconds_published=room.ended_published_seconds
        + sum(published_seconds(s, now) for s in streams),
    )


@dataclass(frozen=True)
class LiveStatus:
    """Where a streamer is live right now: the stream, its room and box."""

    stream: Stream
    room_slug: str
    position: int | None


def live_status(streamer_id: uuid.UUID) -> LiveStatus | None:
    """The streamer's live stream with its room and box, or None when not live."""
    row = db.session.execute(
        select(Stream, Room.slug, Box.position)
        .join(Room, Room.id == Stream.room_id)
        .outerjoin(Box, Box.id == Stream.box_id)
        .where(Stream.streamer_id == streamer_id, Stream.status == StreamStatus.LIVE)
    ).first()
    if row is None:
        return None
    return LiveStatus(row.Stream, row.slug, row.position)
