"""The publish controller's jobs: sync one stream with the provider, and the periodic sweep."""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from flask import current_app
from redis.exceptions import LockError
from rq import Retry
from sqlalchemy import select

from mylivelinks.events import rooms as room_events
from mylivelinks.events.streams import (
    BOX_PUBLISHED,
    BOX_UNPUBLISHED,
    PUBLISH_START,
    PUBLISH_STOP,
    publish_room_event,
    publish_user_event,
)
from mylivelinks.extensions import db, get_queue, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE, vendor_retry
from mylivelinks.jobs.context import job
from mylivelinks.models import Profile, Room, Stream
from mylivelinks.providers import media_credentials, media_provider
from mylivelinks.providers.base import ProviderRejected
from mylivelinks.services.rooms.publishing import (
    SeatChange,
    SweepResult,
    end_silent_streamers,
    end_streams,
    out_of_sync_streams,
    plan_sync,
    record_applied,
    remove_silent_viewers,
    viewer_counts,
)

log = logging.getLogger(__name__)
# A job waiting in the queue makes another one pointless; a retry scheduled for later does
# not (the sweep may find the vendor back sooner, and running twice is harmless).
PENDING = ("queued",)


def request_sync(stream_id: uuid.UUID) -> None:
    """Queue `sync_publish` for the stream unless one is already waiting to run."""
    queue = get_queue(DEFAULT_QUEUE)
    job_id = f"sync-publish-{stream_id}"
    waits = current_app.config["PUBLISH_RETRY_SECONDS"]
    waiting = queue.fetch_job(job_id)
    if waiting is not None and waiting.get_status(refresh=False) in PENDING:
        return
    queue.enqueue(
        sync_publish,
        str(stream_id),
        job_id=job_id,
        retry=Retry(max=len(waits), interval=waits),
    )


@job
def sync_publish(stream_id: str, now: datetime | None = None, reassert: bool = False) -> str:
    """Apply the derived publish state of one stream at the provider, if it differs.

    One run per stream at a time (a Redis lock from the plan to the record), so an older
    decision can never be recorded over a newer one; a run that finds the lock taken
    leaves the work to the holder and to the next sweep. `reassert` revokes again at the
    provider a stream that is (and should be) revoked, when the vendor reports otherwise.
    """
    lock = get_redis().lock(f"sync-publish-lock:{stream_id}", timeout=120)
    if not lock.acquire(blocking=True, blocking_timeout=5):
        return "busy"
    try:
        return _sync(stream_id, now or datetime.now(UTC), reassert)
    finally:
        with contextlib.suppress(LockError):
            lock.release()


def _sync(stream_id: str, now: datetime, reassert: bool) -> str:
    plan = plan_sync(uuid.UUID(stream_id), now)
    db.session.commit()  # no transaction stays open across the provider call
    if plan is not None and reassert and not plan.desired and not plan.applied:
        provider = media_provider()
        provider.set_publishing(plan.room_slug, str(plan.streamer_id), False)
        provider.enforce_revoke(plan.room_slug, str(plan.streamer_id))
        return "revoked again"
    if plan is None or plan.desired == plan.applied:
        return "in_sync"
    try:
        media_provider().set_publishing(plan.room_slug, str(plan.streamer_id), plan.desired)
    except ProviderRejected:
        return _fail_stream(plan.stream_id, now)
    if not record_applied(plan.stream_id, plan.desired, now):
        return "in_sync"  # a concurrent run recorded it first, and told the clients
    db.session.commit()
    _tell_clients(plan)
    if not plan.desired and not media_provider().capabilities.server_side_publish_control:
        grace = timedelta(seconds=current_app.config["MEDIA_REVOKE_GRACE_SECONDS"])
        get_queue(DEFAULT_QUEUE).enqueue_in(grace, enforce_revoke, stream_id)
    log.info(
        "publishing applied",
        extra={"stream_id": stream_id, "allowed": plan.desired, "room": plan.room_slug},
    )
    return "allowed" if plan.desired else "revoked"


def _fail_stream(stream_id: uuid.UUID, now: datetime) -> str:
    """The vendor refuses to change the stream's publishing (retrying will not help): the
    stream ends in `error` and its box goes to the next streamer waiting."""
    stream = db.session.get(Stream, stream_id)
    ended, seated = end_streams([stream], "provider_rejected", now, status="error")
    db.session.commit()
    log.error("stream failed: the provider refused it", extra={"stream_id": str(stream_id)})
    announce_seat_changes(ended, seated, "provider_rejected")
    return "failed"


def _announce(result, thinned: set[uuid.UUID], now: datetime) -> None:
    ended_ids = {ended.stream_id for ended in result.ended_streams}
    for stream_id, slug, position, count in viewer_counts(thinned - ended_ids, now):
        room_events.viewers_counted(slug, position, str(stream_id), count)
    announce_seat_changes(result.ended_streams, result.seated_streams, "heartbeat_timeout")


def announce_seat_changes(
    ended_streams: list[SeatChange], seated_streams: list[SeatChange], reason: str
) -> None:
    """Tell rooms which streams a job ended and who the queue seated in their boxes.

    Rooms left without a stream are closed at the vendor.
    """
    for slug in {e.room_slug for e in ended_streams} - {s.room_slug for s in seated_streams}:
        close_room_when_empty(slug)
    for ended in ended_streams:
        room_events.stream_ended(ended.room_slug, ended.position, str(ended.stream_id), reason)
    for seated in seated_streams:
        streamer = db.session.get(Profile, seated.streamer_id)
        summary = {"id": str(streamer.id), "username": streamer.username}
        room_events.streamer_seated(
            seated.room_slug, seated.position, str(seated.stream_id), summary
        )


def _tell_clients(plan) -> None:
    box = {"position": plan.position, "stream_id": str(plan.stream_id)}
    if plan.desired:
        credentials = media_credentials(plan.room_slug, str(plan.streamer_id), "publisher")
        publish_user_event(
            plan.streamer_id,
            PUBLISH_START,
            {**box, "room": plan.room_slug, "credentials": asdict(credentials)},
        )
        publish_room_event(plan.room_slug, BOX_PUBLISHED, box)
    else:
        # Fresh subscriber credentials: where the vendor switches roles by token (Agora),
        # the client rejoins with them; elsewhere it may ignore them.
        credentials = media_credentials(plan.room_slug, str(plan.streamer_id), "subscriber")
        publish_user_event(
            plan.streamer_id,
            PUBLISH_STOP,
            {**box, "room": plan.room_slug, "credentials": asdict(credentials)},
        )
        publish_room_event(plan.room_slug, BOX_UNPUBLISHED, box)


@job
def enforce_revoke(stream_id: str) -> str:
    """Disconnect a streamer still publishing after a revoke, where the vendor cannot stop it."""
    plan = plan_sync(uuid.UUID(stream_id), datetime.now(UTC))
    db.session.commit()
    if plan is None or plan.applied or plan.desired:
        return "allowed again"
    if media_provider().enforce_revoke(plan.room_slug, str(plan.streamer_id)):
        log.warning(
            "streamer disconnected: still publishing after a revoke",
            extra={"stream_id": stream_id, "room": plan.room_slug},
        )
        return "disconnected"
    return "not publishing"


@job
def sweep_rooms(now: datetime | None = None) -> dict:
    """Remove silent viewers and streamers, then queue a sync for every stream out of sync."""
    now = now or datetime.now(UTC)
    # Three short transactions: viewer rows are never locked while a room lock is awaited.
    thinned = remove_silent_viewers(now)
    db.session.commit()
    ended, seated = end_silent_streamers(now)
    db.session.commit()
    out_of_sync = out_of_sync_streams(now)
    db.session.commit()
    result = SweepResult(len(thinned), ended, seated, out_of_sync)
    for stream_id in out_of_sync:
        request_sync(stream_id)
    _announce(result, set(thinned), now)
    return {
        "stale_viewers": result.stale_viewers,
        "ended_streams": len(result.ended_streams),
        "out_of_sync": len(result.out_of_sync),
    }


def close_room_when_empty(slug: str) -> None:
    """Queue the closing of the vendor room; the job checks again that nobody is live."""
    if media_provider().capabilities.explicit_rooms:
        get_queue(DEFAULT_QUEUE).enqueue(close_media_room, slug, retry=vendor_retry())


@job
def close_media_room(slug: str) -> bool:
    """Close the vendor room if no stream is live in the room (True when closed)."""
    live = db.session.scalar(
        select(Stream.id)
        .join(Room, Room.id == Stream.room_id)
        .where(Room.slug == slug, Stream.status == "live")
        .limit(1)
    )
    db.session.commit()
    if live is not None:
        return False
    media_provider().close_room(slug)
    return True
