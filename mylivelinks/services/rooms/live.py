"""Going live, ending, and the queue that seats waiting streamers in freed boxes.

Each change registers its own announcements (`announcements.py`), whoever makes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from mylivelinks.extensions import db
from mylivelinks.models import Box, BoxViewer, Profile, Room, RoomQueueEntry, Stream
from mylivelinks.models.streams import EndedReason, StreamStatus
from mylivelinks.services.chat import system_lines
from mylivelinks.services.errors import Conflict, NotFound
from mylivelinks.services.moderation.bans import refuse_if_banned
from mylivelinks.services.notifications import inbox
from mylivelinks.services.rooms import announcements, presence
from mylivelinks.services.rooms.state import box_at, live_seconds, published_seconds
from mylivelinks.services.schedules import planning
from mylivelinks.services.streams import stats


@dataclass(frozen=True)
class GoLiveResult:
    """A seated stream (stream and box set) or a place in the queue (queued)."""

    stream: Stream | None
    box: Box | None
    queued: bool
    queue_position: int | None = None


def _free_boxes(room: Room) -> list[Box]:
    taken = select(Stream.box_id).where(
        Stream.room_id == room.id, Stream.status == StreamStatus.LIVE
    )
    return list(
        db.session.scalars(
            select(Box)
            .where(Box.room_id == room.id, Box.id.not_in(taken.where(Stream.box_id.is_not(None))))
            .order_by(Box.position)
        )
    )


def _seat(room: Room, box: Box, streamer_id, title: str | None, now: datetime) -> Stream:
    stream = Stream(
        streamer_id=streamer_id,
        room_id=room.id,
        box_id=box.id,
        title=title,
        status=StreamStatus.LIVE,
        started_at=now,
    )
    db.session.add(stream)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # Going live in two rooms at once: the unique live-streamer index decides.
        raise Conflict("You are already live.") from None
    presence.streamer_seen(room.slug, stream.id, streamer_id, now)
    system_lines.stream_started(room, streamer_id, box.position)
    planning.mark_schedule_started(stream, now)
    inbox.notify_followers_after_commit(stream)
    return stream


def go_live(
    room: Room, streamer: Profile, *, title: str | None, position: int | None, now: datetime
) -> GoLiveResult:
    """Seat the streamer (the requested or lowest free box) or queue them; room is locked."""
    refuse_if_banned(room, streamer.id)
    already = db.session.scalar(
        select(Stream.id).where(
            Stream.streamer_id == streamer.id, Stream.status == StreamStatus.LIVE
        )
    )
    queued = db.session.scalar(
        select(RoomQueueEntry.id).where(RoomQueueEntry.streamer_id == streamer.id)
    )
    if already or queued:
        raise Conflict("You are already live or waiting for a box.")
    free = _free_boxes(room)
    if position is not None:
        wanted = box_at(room, position)
        if wanted not in free:
            raise Conflict(f"Box {position} is taken.", field="position")
        free = [wanted]
    if free:
        stream = _seat(room, free[0], streamer.id, title, now)
        announcements.stream_started(room.slug, free[0].position, stream.id, streamer.id)
        return GoLiveResult(stream=stream, box=free[0], queued=False)
    db.session.add(RoomQueueEntry(room_id=room.id, streamer_id=streamer.id, title=title))
    db.session.flush()
    return GoLiveResult(
        stream=None, box=None, queued=True, queue_position=_queue_place(room, streamer.id)
    )


def _queue_place(room: Room, streamer_id: uuid.UUID) -> int | None:
    waiting = db.session.scalars(
        select(RoomQueueEntry.streamer_id)
        .where(RoomQueueEntry.room_id == room.id)
        .order_by(RoomQueueEntry.queued_at, RoomQueueEntry.id)
    ).all()
    return waiting.index(streamer_id) + 1 if streamer_id in waiting else None


def place_of(room: Room, streamer: Profile) -> GoLiveResult:
    """Where the streamer is in the room: seated (stream and box) or queued (their place)."""
    stream = db.session.scalar(
        select(Stream).where(
            Stream.room_id == room.id,
            Stream.streamer_id == streamer.id,
            Stream.status == StreamStatus.LIVE,
        )
    )
    if stream is not None and stream.box_id is not None:
        return GoLiveResult(stream=stream, box=db.session.get(Box, stream.box_id), queued=False)
    if (place := _queue_place(room, streamer.id)) is not None:
        return GoLiveResult(stream=None, box=None, queued=True, queue_position=place)
    raise NotFound("You are not live or queued in this room.")


def end_stream(
    stream: Stream, *, reason: EndedReason, now: datetime, status: StreamStatus = StreamStatus.ENDED
) -> Stream | None:
    """End a live stream (`ended`, or `error` when it failed), free its box and seat the
    next queued streamer (returned)."""
    # FOR NO KEY UPDATE, as `rooms.get_room`: a gift to this stream, holding the streamer's
    # rows, may still insert its row (referring to the room and the stream) and commit.
    room = db.session.get_one(Room, stream.room_id, with_for_update={"key_share": True})
    # Re-read under the room lock: a concurrent end (the streamer, a sweep) may have won.
    db.session.refresh(stream, with_for_update={"key_share": True})
    if stream.status != StreamStatus.LIVE:
        return None
    if stream.published_since is not None:
        stream.published_seconds = published_seconds(stream, now)
        stream.published_since = None
    stream.status, stream.ended_at, stream.ended_reason = status, now, reason
    room.ended_live_seconds += live_seconds(stream, now)
    room.ended_published_seconds += stream.published_seconds
    freed = db.session.get(Box, stream.box_id) if stream.box_id else None
    stats.close_sessions(stream.id, None, now)
    stats.save_stats(stream, now)
    db.session.execute(delete(BoxViewer).where(BoxViewer.stream_id == stream.id))
    position = freed.position if freed else None
    system_lines.stream_ended(room, stream.streamer_id, position)
    presence.stream_gone(room.slug, stream.id, stream.streamer_id)
    announcements.stream_ended(room.slug, position, stream.id, reason)
    successor = seat_next(room, freed, now) if freed else None
    if successor is None:
        announcements.room_may_be_empty(room.slug, position)
    return successor


def seat_next(room: Room, box: Box, now: datetime) -> Stream | None:
    """Give `box` to the streamer who has waited longest in the room's queue."""
    while True:
        entry = db.session.scalar(
            select(RoomQueueEntry)
            .where(RoomQueueEntry.room_id == room.id)
            .order_by(RoomQueueEntry.queued_at, RoomQueueEntry.id)
            .limit(1)
            .with_for_update()
        )
        if entry is None:
            return None
        db.session.delete(entry)
        db.session.flush()
        try:
            seated = _seat(room, box, entry.streamer_id, entry.title, now)
        except Conflict:
            continue  # went live elsewhere meanwhile: the place is given up
        announcements.streamer_seated(room.slug, box.position, seated.id, seated.streamer_id)
        return seated


def leave(room: Room, streamer: Profile, now: datetime) -> tuple[Stream | None, Stream | None]:
    """End the caller's stream in the room or leave its queue; returns (ended, seated)."""
    stream = db.session.scalar(
        select(Stream).where(
            Stream.room_id == room.id,
            Stream.streamer_id == streamer.id,
            Stream.status == StreamStatus.LIVE,
        )
    )
    if stream is not None:
        return stream, end_stream(stream, reason=EndedReason.ENDED_BY_STREAMER, now=now)
    removed = db.session.execute(
        delete(RoomQueueEntry)
        .where(RoomQueueEntry.room_id == room.id, RoomQueueEntry.streamer_id == streamer.id)
        .returning(RoomQueueEntry.id)
    ).scalar()
    if removed is None:
        raise NotFound("You are not live or queued in this room.")
    return None, None


@dataclass(frozen=True)
class SeatChange:
    """A stream ended (or seated from the queue) in a box, as clients are told of it."""

    room_slug: str
    position: int | None
    stream_id: uuid.UUID
    streamer_id: uuid.UUID


def end_streams(
    streams: list[Stream],
    reason: EndedReason,
    now: datetime,
    *,
    status: StreamStatus = StreamStatus.ENDED,
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
