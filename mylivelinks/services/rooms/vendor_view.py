"""The vendor's own view of its rooms against ours, for the periodic sweep.

A revoke can miss: LiveKit holds no permission for a participant not connected yet (the
revoke is recorded pending), and the webhook that would re-apply it when they connect may be
lost (LiveKit drops webhooks when its queue is full). So the sweep asks the vendor who is in
each room and whether it lets them publish: a streamer revoked here whom the vendor lets
publish is revoked again. A room with a pending revoke is checked at every sweep, any other
room with a revoked streamer once per `MEDIA_VENDOR_VIEW_SECONDS` (one vendor call per room:
LiveKit's ListParticipants), so the vendor's API is never asked more often than that.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs.enqueue import reassert_revoke
from mylivelinks.models import Box, Room, Stream
from mylivelinks.models.streams import StreamStatus
from mylivelinks.providers import media_provider
from mylivelinks.providers.base import MediaProviderError
from mylivelinks.transaction import after_commit

log = logging.getLogger(__name__)

PENDING_KEY = "media:publish:pending"  # hash: stream id -> vendor room
CHECKED_KEY = "media:vendor-view:checked:{room}"


@dataclass(frozen=True)
class Revoked:
    """A live stream whose publishing is revoked here, as the vendor knows it."""

    stream_id: uuid.UUID
    identity: str


def mark_pending(stream_id: uuid.UUID, vendor_room: str) -> None:
    """The vendor could not take a revoke yet (the streamer is not connected)."""
    get_redis().hset(PENDING_KEY, str(stream_id), vendor_room)


def rooms_to_check() -> dict[str, list[Revoked]]:
    """The revoked live streams of each vendor room due for a look (see the module)."""
    provider = media_provider()
    rows = db.session.execute(
        select(Stream.id, Stream.streamer_id, Room.slug, Box.position)
        .join(Room, Room.id == Stream.room_id)
        .outerjoin(Box, Box.id == Stream.box_id)
        .where(Stream.status == StreamStatus.LIVE, Stream.publishing_applied.is_(False))
    ).all()
    by_room: dict[str, list[Revoked]] = defaultdict(list)
    for row in rows:
        room = provider.vendor_room(row.slug, row.position)
        by_room[room].append(Revoked(row.id, str(row.streamer_id)))
    redis = get_redis()
    pending = {_text(key) for key in redis.hkeys(PENDING_KEY)}
    revoked = {str(r.stream_id) for streams in by_room.values() for r in streams}
    if stale := pending - revoked:  # allowed again or ended since
        redis.hdel(PENDING_KEY, *stale)
    seconds = current_app.config["MEDIA_VENDOR_VIEW_SECONDS"]
    due = {}
    for room, streams in by_room.items():
        urgent = any(str(r.stream_id) in pending for r in streams)
        if urgent or redis.set(CHECKED_KEY.format(room=room), 1, nx=True, ex=seconds):
            due[room] = streams
    return due


def revoke_where_the_vendor_disagrees(due: dict[str, list[Revoked]]) -> list[uuid.UUID]:
    """Ask the vendor about each room (call with no transaction open); a revoked streamer it
    lets publish gets a re-revoke queued once committed. Returns those streams."""
    provider = media_provider()
    redis = get_redis()
    disagreeing: list[uuid.UUID] = []
    for room, streams in due.items():
        try:
            view = provider.publishers(room)
        except MediaProviderError as exc:  # the next sweep asks again
            log.warning("vendor view unavailable", extra={"room": room, "error": str(exc)})
            continue
        if view is None:
            return []  # this vendor offers no view
        for revoked in streams:
            if revoked.identity not in view:
                continue  # not connected: a pending revoke stays pending
            redis.hdel(PENDING_KEY, str(revoked.stream_id))
            if view[revoked.identity]:
                disagreeing.append(revoked.stream_id)
    for stream_id in disagreeing:
        log.warning("vendor lets a revoked streamer publish", extra={"stream_id": str(stream_id)})
        after_commit(functools.partial(reassert_revoke, stream_id))
    return disagreeing


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
