"""Verified vendor webhooks: stored once, then applied to the streams they are about.

Vendor rooms are named after the room (and box, where the adapter gives each box a room of
its own: `MediaProvider.room_of` reads them back) and streamers by profile id, so an event
names the room and the person directly, whatever the vendor. Storing queues the events'
application and applying queues what it decided (rechecks, revokes), once committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.jobs.enqueue import (
    check_streamer_gone_later,
    enqueue_media_events,
    reassert_revoke,
    stop_viewer_publishing,
)
from mylivelinks.models import Box, MediaEventRecord, Room, Stream
from mylivelinks.models.media import MediaEventKind, MediaEventStatus
from mylivelinks.models.streams import EndedReason, StreamStatus
from mylivelinks.providers import media_provider
from mylivelinks.providers.base import MediaEvent
from mylivelinks.services.rooms.live import SeatChange, end_streams
from mylivelinks.transaction import after_commit


def store_events(events: list[MediaEvent]) -> list[uuid.UUID]:
    """Store each event unless already stored; the ids of the new ones, each applied by a
    job queued once committed."""
    stored = []
    for event in events:
        new_id = db.session.execute(
            insert(MediaEventRecord)
            .values(
                id=uuid.uuid4(),
                provider=event.provider,
                event_id=event.event_id,
                kind=event.kind,
                room=event.room,
                identity=event.identity,
                occurred_at=event.occurred_at,
                sequence=event.sequence,
                can_publish=event.can_publish,
                payload=event.payload,
            )
            .on_conflict_do_nothing(constraint="uq_media_events_provider_event")
            .returning(MediaEventRecord.id)
        ).scalar()
        if new_id is not None:
            stored.append(new_id)
    if stored:
        after_commit(lambda: enqueue_media_events(stored))
    return stored


@dataclass(frozen=True)
class Application:
    """What applying one event decided; vendor calls and rechecks are queued once committed."""

    outcome: str
    # A streamer who left: check again after the grace period whether they came back.
    recheck_stream_id: uuid.UUID | None = None
    left_at: datetime | None = None
    # The vendor room they left and the vendor's sequence of that leave, if any.
    left_room: str | None = None
    left_sequence: int | None = None
    # A streamer joined or published while revoked: the stream to revoke again at the vendor.
    rerevoke: uuid.UUID | None = None
    # Whether that was a violation (a track published while revoked), not just a join.
    published_while_revoked: bool = False
    # Someone without a live stream in the room publishes where tokens do not stop them.
    stop_viewer: bool = False


def apply_event(record_id: uuid.UUID, now: datetime) -> Application | None:
    """Apply a stored event to the streams it is about (None when already applied)."""
    record = db.session.get(MediaEventRecord, record_id, with_for_update=True)
    if record is None or record.status != MediaEventStatus.RECEIVED:
        return None
    application = _decide(record, now)
    record.status = MediaEventStatus.PROCESSED
    record.outcome, record.processed_at = application.outcome, now
    db.session.flush()
    recheck, left_at = application.recheck_stream_id, application.left_at
    if recheck is not None and left_at is not None:
        room, sequence = application.left_room or record.room, application.left_sequence
        after_commit(lambda: check_streamer_gone_later(recheck, left_at, room, sequence))
    if application.stop_viewer and record.identity is not None:
        room, identity = record.room, record.identity
        after_commit(lambda: stop_viewer_publishing(room, identity))
    rerevoke = application.rerevoke
    if rerevoke is not None:
        # A job of its own (the event is already applied, so a failing vendor call is
        # retried there), run under the stream's sync lock and only if still revoked.
        after_commit(lambda: reassert_revoke(rerevoke))
    return application


def _decide(record: MediaEventRecord, now: datetime) -> Application:
    slug, position = media_provider().room_of(record.room)
    if record.kind == MediaEventKind.ROOM_FINISHED:
        return _end_room(slug, position, record.occurred_at, now)
    if _superseded(record):
        # The vendor has since sent a later event of this participant (applied in its own
        # job): this one no longer says where they are.
        return Application("superseded by a later event of this participant")
    stream = _live_stream(slug, record.identity)
    if stream is None:
        if _publishing(record) and not media_provider().capabilities.token_enforces_role:
            # Their token could not stop them (Agora without co-host authentication,
            # Twilio): the vendor is told to stop them.
            return Application("publishing without a live stream; stopped", stop_viewer=True)
        return Application("nothing live for this participant")
    if record.kind == MediaEventKind.PARTICIPANT_LEFT:
        return Application(
            "streamer left; checked after the grace period",
            stream.id,
            record.occurred_at,
            left_room=record.room,
            left_sequence=record.sequence,
        )
    if record.kind == MediaEventKind.TRACK_PUBLISHED and not stream.publishing_applied:
        return Application(
            "published while revoked; revoked again",
            rerevoke=stream.id,
            published_while_revoked=True,
        )
    if record.kind == MediaEventKind.PARTICIPANT_JOINED and not stream.publishing_applied:
        # Publisher credentials can publish from the start; nobody watches yet, so the
        # vendor is told now, when it can act on the participant.
        return Application("joined while revoked; revoked", rerevoke=stream.id)
    return Application("recorded")


def _publishing(record: MediaEventRecord) -> bool:
    """Whether the event says its participant publishes (or joined able to)."""
    if record.kind == MediaEventKind.TRACK_PUBLISHED:
        return True
    return record.kind == MediaEventKind.PARTICIPANT_JOINED and record.can_publish is True


def _superseded(record: MediaEventRecord) -> bool:
    """Whether the vendor sequenced another stored event of the participant after this one."""
    if record.sequence is None or record.identity is None:
        return False
    later = db.session.scalar(
        select(MediaEventRecord.id)
        .where(
            MediaEventRecord.provider == record.provider,
            MediaEventRecord.room == record.room,
            MediaEventRecord.identity == record.identity,
            MediaEventRecord.sequence > record.sequence,
        )
        .limit(1)
    )
    return later is not None


def is_live_in(room_slug: str, identity: str) -> bool:
    """Whether `identity` streams live in the room (a vendor participant may be anyone)."""
    return _live_stream(room_slug, identity) is not None


def _live_stream(room_slug: str, identity: str | None) -> Stream | None:
    try:
        streamer_id = uuid.UUID(identity or "")
    except ValueError:
        return None
    return db.session.scalar(
        select(Stream)
        .join(Room, Room.id == Stream.room_id)
        .where(Room.slug == room_slug, Stream.streamer_id == streamer_id)
        .where(Stream.status == StreamStatus.LIVE)
    )


def _end_room(
    room_slug: str, position: int | None, finished_at: datetime, now: datetime
) -> Application:
    # Only streams that started before the vendor room finished were in it; a stream the
    # queue seats now (or one that went live since) joins a room the vendor creates anew.
    # Vendors stamp events to the second: a stream of that same second counts as in it.
    # A vendor room of one box holds that box's stream only.
    query = (
        select(Stream)
        .join(Room, Room.id == Stream.room_id)
        .where(Room.slug == room_slug, Stream.status == StreamStatus.LIVE)
        .where(Stream.started_at < finished_at + timedelta(seconds=1))
    )
    if position is not None:
        query = query.join(Box, Box.id == Stream.box_id).where(Box.position == position)
    streams = db.session.scalars(query).all()
    ended, _ = end_streams(list(streams), EndedReason.PROVIDER_ROOM_FINISHED, now)
    return Application(f"room finished; {len(ended)} streams ended")


def gone_check_target(stream_id: uuid.UUID) -> str | None:
    """The streamer identity of a live stream (what the vendor knows them by), else None."""
    stream = db.session.get(Stream, stream_id)
    if stream is None or stream.status != StreamStatus.LIVE:
        return None
    return str(stream.streamer_id)


def end_if_still_gone(
    stream_id: uuid.UUID,
    left_at: datetime,
    now: datetime,
    *,
    present: bool | None = None,
    left_room: str | None = None,
    left_sequence: int | None = None,
) -> list[SeatChange]:
    """End the stream unless its streamer is back in the vendor room.

    `present` is the vendor's own answer (None where it cannot tell). Without one, a join
    the vendor sequenced after the leave counts as a return; where the vendor gives no
    sequence, a join stamped in the same second as the leave or later does (a reconnect
    removes and adds the participant within one second, webhooks in either order).
    Returns the ended stream's seat change, empty when nothing was ended.
    """
    stream = db.session.get(Stream, stream_id)
    if stream is None or stream.status != StreamStatus.LIVE or present is True:
        return []
    if present is None and _rejoined(stream, left_room, left_at, left_sequence):
        return []
    ended, _ = end_streams([stream], EndedReason.PROVIDER_LEFT, now)
    return ended


def _rejoined(
    stream: Stream, left_room: str | None, left_at: datetime, left_sequence: int | None
) -> bool:
    if left_room is None:
        left_room = db.session.scalar(select(Room.slug).where(Room.id == stream.room_id))
    joins = select(MediaEventRecord.id).where(
        MediaEventRecord.room == left_room,
        MediaEventRecord.identity == str(stream.streamer_id),
        MediaEventRecord.kind == MediaEventKind.PARTICIPANT_JOINED,
    )
    if left_sequence is not None:
        joins = joins.where(MediaEventRecord.sequence > left_sequence)
    else:
        joins = joins.where(MediaEventRecord.occurred_at >= left_at)
    return db.session.scalar(joins.limit(1)) is not None
