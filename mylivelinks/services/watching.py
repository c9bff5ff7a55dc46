"""Viewers opening and closing boxes, and the one batched heartbeat."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models import Box, BoxViewer, Profile, Room, Stream
from mylivelinks.services.errors import Conflict
from mylivelinks.services.rooms import box_at


def live_stream_in(box: Box) -> Stream | None:
    """The live stream occupying the box, if any."""
    return db.session.scalar(select(Stream).where(Stream.box_id == box.id, Stream.status == "live"))


def open_box(room: Room, position: int, viewer: Profile, now: datetime) -> tuple[Stream, Box]:
    """Join the box as a viewer (or refresh); Conflict when nobody is live in it."""
    box = box_at(room, position)
    stream = live_stream_in(box)
    if stream is None:
        raise Conflict(f"Box {position} is empty.")
    db.session.execute(
        insert(BoxViewer)
        .values(
            id=uuid.uuid4(),
            stream_id=stream.id,
            viewer_id=viewer.id,
            joined_at=now,
            last_heartbeat_at=now,
        )
        .on_conflict_do_update(
            index_elements=["stream_id", "viewer_id"], set_={"last_heartbeat_at": now}
        )
    )
    return stream, box


def close_box(room: Room, position: int, viewer: Profile) -> Stream | None:
    """Stop watching the box; returns the stream that lost a viewer, if any."""
    stream = live_stream_in(box_at(room, position))
    if stream is None:
        return None
    removed = db.session.execute(
        delete(BoxViewer)
        .where(BoxViewer.stream_id == stream.id, BoxViewer.viewer_id == viewer.id)
        .returning(BoxViewer.id)
    ).scalar()
    return stream if removed else None


def heartbeat(
    room: Room, caller: Profile, positions: list[int], now: datetime
) -> tuple[dict[int, bool], bool]:
    """Refresh the caller's open boxes among `positions` and their own stream.

    Returns ({position: refreshed}, whether the caller's own stream was refreshed).
    """
    refreshed = dict.fromkeys(positions, False)
    if positions:
        rows = db.session.execute(
            update(BoxViewer)
            .where(
                BoxViewer.viewer_id == caller.id,
                BoxViewer.stream_id == Stream.id,
                Stream.box_id == Box.id,
                Stream.status == "live",
                Box.room_id == room.id,
                Box.position.in_(positions),
            )
            .values(last_heartbeat_at=now)
            .returning(Box.position)
        ).scalars()
        for position in rows:
            refreshed[position] = True
    own = db.session.execute(
        update(Stream)
        .where(Stream.room_id == room.id, Stream.streamer_id == caller.id, Stream.status == "live")
        .values(last_heartbeat_at=now)
        .returning(Stream.id)
    ).scalar()
    return refreshed, own is not None
