"""The publish controller's jobs: sync one stream with the provider, and the periodic sweep."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq import Retry

from mylivelinks.events import rooms as room_events
from mylivelinks.events.streams import (
    BOX_PUBLISHED,
    BOX_UNPUBLISHED,
    PUBLISH_START,
    PUBLISH_STOP,
    publish_room_event,
    publish_user_event,
)
from mylivelinks.extensions import db, get_queue
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.context import job
from mylivelinks.models import Profile
from mylivelinks.providers import media_provider
from mylivelinks.services.publishing import plan_sync, record_applied, sweep

log = logging.getLogger(__name__)
# A job waiting in the queue makes another one pointless; a retry scheduled for later does
# not (the sweep may find the vendor back sooner, and running twice is harmless).
PENDING = ("queued",)


def request_sync(stream_id: uuid.UUID) -> None:
    """Queue `sync_publish` for the stream unless one is already waiting to run."""
    queue = get_queue(DEFAULT_QUEUE)
    job_id = f"sync-publish-{stream_id}"
    waiting = queue.fetch_job(job_id)
    if waiting is not None and waiting.get_status(refresh=False) in PENDING:
        return
    queue.enqueue(
        sync_publish,
        str(stream_id),
        job_id=job_id,
        retry=Retry(max=5, interval=[1, 2, 4, 8, 16]),
    )


@job
def sync_publish(stream_id: str, now: datetime | None = None) -> str:
    """Apply the derived publish state of one stream at the provider, if it differs."""
    now = now or datetime.now(UTC)
    plan = plan_sync(uuid.UUID(stream_id), now)
    db.session.commit()  # no transaction stays open across the provider call
    if plan is None or plan.desired == plan.applied:
        return "in_sync"
    provider = media_provider()
    provider.set_publishing(plan.room_slug, str(plan.streamer_id), plan.desired)
    if not record_applied(plan.stream_id, plan.desired, now):
        return "in_sync"  # a concurrent run recorded it first, and told the clients
    db.session.commit()
    _tell_clients(plan, provider)
    log.info(
        "publishing applied",
        extra={"stream_id": stream_id, "allowed": plan.desired, "room": plan.room_slug},
    )
    return "allowed" if plan.desired else "revoked"


def _announce(result) -> None:
    for ended in result.ended_streams:
        room_events.stream_ended(
            ended.room_slug, ended.position, str(ended.stream_id), "heartbeat_timeout"
        )
    if not result.seated_streams:
        return
    ttl = timedelta(seconds=current_app.config["MEDIA_CREDENTIALS_TTL_SECONDS"])
    for seated in result.seated_streams:
        streamer = db.session.get(Profile, seated.streamer_id)
        summary = {"id": str(streamer.id), "username": streamer.username}
        room_events.stream_started(
            seated.room_slug, seated.position, str(seated.stream_id), summary
        )
        credentials = media_provider().credentials(
            seated.room_slug, str(streamer.id), "publisher", ttl
        )
        room_events.seated_from_queue(summary["id"], seated.room_slug, seated.position, credentials)


def _tell_clients(plan, provider) -> None:
    box = {"position": plan.position, "stream_id": str(plan.stream_id)}
    if plan.desired:
        ttl = timedelta(seconds=current_app.config["MEDIA_CREDENTIALS_TTL_SECONDS"])
        credentials = provider.credentials(plan.room_slug, str(plan.streamer_id), "publisher", ttl)
        publish_user_event(
            plan.streamer_id,
            PUBLISH_START,
            {**box, "room": plan.room_slug, "credentials": asdict(credentials)},
        )
        publish_room_event(plan.room_slug, BOX_PUBLISHED, box)
    else:
        publish_user_event(plan.streamer_id, PUBLISH_STOP, {**box, "room": plan.room_slug})
        publish_room_event(plan.room_slug, BOX_UNPUBLISHED, box)


@job
def sweep_rooms(now: datetime | None = None) -> dict:
    """Remove silent viewers and streamers, then queue a sync for every stream out of sync."""
    result = sweep(now or datetime.now(UTC))
    db.session.commit()
    for stream_id in result.out_of_sync:
        request_sync(stream_id)
    _announce(result)
    return {
        "stale_viewers": result.stale_viewers,
        "ended_streams": len(result.ended_streams),
        "out_of_sync": len(result.out_of_sync),
    }
