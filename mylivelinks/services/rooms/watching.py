"""Viewers opening and closing boxes (each announced once committed), and the one batched
heartbeat."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models import Box, BoxViewer, Profile, Room, Stream
from mylivelinks.models.profiles import Role
from mylivelinks.models.streams import StreamStatus
from mylivelinks.providers import media_provider
from mylivelinks.services.errors import Conflict, Forbidden
from mylivelinks.services.moderation.bans import refuse_if_banned
from mylivelinks.services.rooms import announcements, presence
from mylivelinks.services.rooms.state import box_at, get_room
from mylivelinks.services.streams import stats


def live_stream_in(box: Box) -> Stream | None:
    """The live stream occupying the box, if any."""
    return db.session.scalar(
        select(Stream).where(Stream.box_id == box.id, Stream.status == StreamStatus.LIVE)
    )


def open_box(room: Room, position: int, viewer: Profile, now: datetime) -> tuple[Stream, Box]:
    """Join the box as a viewer (or refresh); Conflict when nobody is live in it, Forbidden
    when banned or a guest in a room without anonymous viewing."""
    if viewer.role == Role.GUEST and not room.anonymous_viewing:
        raise Forbidden(f"Watching in {room.slug} needs an account.")
    refuse_if_banned(room, viewer.id)
    box = box_at(room, position)
    stream = live_stream_in(box)
    if stream is None:
        raise Conflict(f"Box {position} is empty.")
    _refuse_past_vendor_capacity(room, position, stream, viewer.id)
    db.session.execute(
        insert(BoxViewer)
        .values(id=uuid.uuid4(), stream_id=stream.id, viewer_id=viewer.id, joined_at=now)
        .on_conflict_do_nothing(index_elements=["stream_id", "viewer_id"])
    )
    presence.viewer_seen(room.slug, position, stream.id, viewer.id, now)
    stats.start_session(stream, viewer.id, now)
    announcements.viewers_changed(room.slug, position, stream.id, viewer.id, joined=True, now=now)
    return stream, box


def _refuse_past_vendor_capacity(
    room: Room, position: int, stream: Stream, viewer_id: uuid.UUID
) -> None:
    """Conflict when the box's vendor room already holds as many participants as the vendor
    admits (its streamer and every viewer connection): a join past it would fail there."""
    provider = media_provider()
    limit = provider.capabilities.max_participants_per_room
    if limit is None:
        return
    # One viewer at a time per box, so two cannot both take the last place.
    db.session.execute(select(Stream.id).where(Stream.id == stream.id).with_for_update())
    already = db.session.scalar(
        select(BoxViewer.id).where(
            BoxViewer.stream_id == stream.id, BoxViewer.viewer_id == viewer_id
        )
    )
    if already is not None:
        return
    target = provider.vendor_room(room.slug, position)
    sharing = [
        stream_id
        for stream_id, box in db.session.execute(
            select(Stream.id, Box.position)
            .join(Box, Box.id == Stream.box_id)
            .where(Stream.room_id == room.id, Stream.status == StreamStatus.LIVE)
        )
        if provider.vendor_room(room.slug, box) == target
    ]
    viewers = db.session.scalar(
        select(func.count()).select_from(BoxViewer).where(BoxViewer.stream_id.in_(sharing))
    )
    if len(sharing) + (viewers or 0) >= limit:
        raise Conflict(
            f"Box {position} is full: the video provider admits {limit} participants "
            "(the streamer and the viewers) in it. Try again later."
        )


def close_box(room: Room, position: int, viewer: Profile, now: datetime) -> Stream | None:
    """Stop watching the box; returns the stream that lost a viewer, if any."""
    stream = live_stream_in(box_at(room, position))
    if stream is None:
        return None
    removed = db.session.execute(
        delete(BoxViewer)
        .where(BoxViewer.stream_id == stream.id, BoxViewer.viewer_id == viewer.id)
        .returning(BoxViewer.id)
    ).scalar()
    presence.viewer_gone(room.slug, position, stream.id, viewer.id)
    if not removed:
        return None
    stats.close_sessions(stream.id, [viewer.id], now)
    announcements.viewers_changed(room.slug, position, stream.id, viewer.id, joined=False, now=now)
    return stream


def heartbeat(
    slug: str, caller_id: uuid.UUID, positions: list[int], now: datetime
) -> tuple[dict[int, bool], bool]:
    """Refresh the caller's open boxes among `positions` and their own stream in the room.

    Redis answers almost every heartbeat alone; what it does not know is looked up in the
    database and recorded again (NotFound for an unknown room then).
    Returns ({position: refreshed}, whether the caller's own stream was refreshed).
    """
    refreshed, own = presence.refresh(slug, caller_id, positions, now)
    missed = [position for position, ok in refreshed.items() if not ok]
    if missed or own == presence.UNKNOWN:
        room = get_room(slug)
        for position, stream_id in _open_boxes(room, caller_id, missed).items():
            presence.viewer_seen(room.slug, position, stream_id, caller_id, now)
            refreshed[position] = True
        if own == presence.UNKNOWN:
            own = _recover_own_stream(room, caller_id, now)
    return refreshed, own == 1


def _open_boxes(room: Room, viewer_id: uuid.UUID, positions: list[int]) -> dict[int, uuid.UUID]:
    if not positions:
        return {}
    rows = db.session.execute(
        select(Box.position, Stream.id)
        .join(Stream, (Stream.box_id == Box.id) & (Stream.status == StreamStatus.LIVE))
        .join(BoxViewer, BoxViewer.stream_id == Stream.id)
        .where(Box.room_id == room.id, Box.position.in_(positions))
        .where(BoxViewer.viewer_id == viewer_id)
    ).all()
    return dict(rows)


def _recover_own_stream(room: Room, caller_id: uuid.UUID, now: datetime) -> int:
    live = db.session.execute(
        select(Stream.id, Room.slug)
        .join(Room, Room.id == Stream.room_id)
        .where(Stream.streamer_id == caller_id, Stream.status == StreamStatus.LIVE)
    ).one_or_none()
    if live is None:
        presence.not_streaming(caller_id)
        return 0
    if live.slug != room.slug:
        presence.remember_stream(live.slug, live.id, caller_id)
        return 0
    presence.streamer_seen(room.slug, live.id, caller_id, now)
    return 1
