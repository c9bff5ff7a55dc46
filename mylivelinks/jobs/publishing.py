"""The publish controller's jobs: sync one stream with the provider, and the periodic sweep."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from rq import Retry

from mylivelinks.extensions import db, get_queue
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.context import job
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
    media_provider().set_publishing(plan.room_slug, str(plan.streamer_id), plan.desired)
    record_applied(plan.stream_id, plan.desired, now)
    log.info(
        "publishing applied",
        extra={"stream_id": stream_id, "allowed": plan.desired, "room": plan.room_slug},
    )
    return "allowed" if plan.desired else "revoked"


@job
def sweep_rooms(now: datetime | None = None) -> dict:
    """Remove silent viewers and streamers, then queue a sync for every stream out of sync."""
    result = sweep(now or datetime.now(UTC))
    db.session.commit()
    for stream_id in result.out_of_sync:
        request_sync(stream_id)
    return {
        "stale_viewers": result.stale_viewers,
        "ended_streams": len(result.ended_streams),
        "out_of_sync": len(result.out_of_sync),
    }
