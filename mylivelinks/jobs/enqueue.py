"""Queueing jobs from services' after-commit effects.

Jobs are named by dotted path and this module imports no service: the job modules import
the services, and the services import this, without a cycle.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from rq import Retry

from mylivelinks.extensions import get_queue
from mylivelinks.jobs import DEFAULT_QUEUE, vendor_retry
from mylivelinks.providers import media_provider

SYNC_PUBLISH = "mylivelinks.jobs.publishing.sync_publish"
ENFORCE_REVOKE = "mylivelinks.jobs.publishing.enforce_revoke"
CLOSE_MEDIA_ROOM = "mylivelinks.jobs.publishing.close_media_room"
OPEN_MEDIA_ROOM = "mylivelinks.jobs.media.open_media_room"
APPLY_MEDIA_EVENT = "mylivelinks.jobs.media.apply_media_event"
END_STREAM_IF_STILL_GONE = "mylivelinks.jobs.media.end_stream_if_still_gone"
STOP_VIEWER_PUBLISHING = "mylivelinks.jobs.media.stop_viewer_publishing"
NOTIFY_FOLLOWERS = "mylivelinks.jobs.notifications.notify_followers"
APPLY_PAYMENT_EVENT = "mylivelinks.jobs.payments.apply_payment_event"
FINISH_STORE_PURCHASE = "mylivelinks.jobs.payments.finish_store_purchase"

FOLLOWER_RETRY_SECONDS = [5, 30, 120]
PAYMENT_EVENT_RETRY_SECONDS = [5, 30, 120, 600, 1800]


def _waiting(job_id: str) -> bool:
    """Whether the job is on the queue, bound to run: another one would be pointless.

    Only the queue itself counts. A job whose status still says `queued` may have been lost
    between the queue and a worker (one killed right after taking it), and RQ cleans those
    up only after minutes; a retry scheduled for later does not count either (the sweep
    may find the vendor back sooner, and running twice is harmless).
    """
    return get_queue(DEFAULT_QUEUE).get_job_position(job_id) is not None


def request_sync(stream_id: uuid.UUID | str) -> None:
    """Queue `sync_publish` for the stream unless one is already waiting to run."""
    job_id = f"sync-publish-{stream_id}"
    if _waiting(job_id):
        return
    waits = current_app.config["PUBLISH_RETRY_SECONDS"]
    get_queue(DEFAULT_QUEUE).enqueue(
        SYNC_PUBLISH, str(stream_id), job_id=job_id, retry=Retry(max=len(waits), interval=waits)
    )


def reassert_revoke(stream_id: uuid.UUID) -> None:
    """Queue a sync that revokes the stream again at the vendor if it is still revoked."""
    get_queue(DEFAULT_QUEUE).enqueue(
        SYNC_PUBLISH, str(stream_id), reassert=True, retry=vendor_retry()
    )


def enforce_revoke_later(stream_id: uuid.UUID) -> None:
    """Where the vendor cannot stop a publisher, disconnect them after the grace if needed."""
    if media_provider().capabilities.server_side_publish_control:
        return
    grace = timedelta(seconds=current_app.config["MEDIA_REVOKE_GRACE_SECONDS"])
    get_queue(DEFAULT_QUEUE).enqueue_in(grace, ENFORCE_REVOKE, str(stream_id))


def close_room_when_empty(slug: str, position: int | None) -> None:
    """Queue the closing of the box's vendor room (one at a time); the job checks that nobody
    is live in it."""
    provider = media_provider()
    job_id = f"close-media-room-{provider.vendor_room(slug, position)}"
    if not provider.capabilities.explicit_rooms or _waiting(job_id):
        return
    get_queue(DEFAULT_QUEUE).enqueue(
        CLOSE_MEDIA_ROOM, slug, position, job_id=job_id, retry=vendor_retry()
    )


def open_room_later(slug: str, position: int) -> None:
    """Queue opening the vendor room of a box where rooms are explicit."""
    if media_provider().capabilities.explicit_rooms:
        get_queue(DEFAULT_QUEUE).enqueue(OPEN_MEDIA_ROOM, slug, position, retry=vendor_retry())


def enqueue_media_events(record_ids: list[uuid.UUID]) -> None:
    """Queue one `apply_media_event` per stored webhook event."""
    queue = get_queue(DEFAULT_QUEUE)
    for record_id in record_ids:
        queue.enqueue(APPLY_MEDIA_EVENT, str(record_id), retry=vendor_retry())


def check_streamer_gone_later(
    stream_id: uuid.UUID, left_at: datetime, room: str, sequence: int | None
) -> None:
    """After the grace, end the stream if its streamer has not come back to vendor `room`
    (`sequence`: the vendor's sequence of the leave, if it gives one)."""
    grace = timedelta(seconds=current_app.config["MEDIA_LEFT_GRACE_SECONDS"])
    get_queue(DEFAULT_QUEUE).enqueue_in(
        grace, END_STREAM_IF_STILL_GONE, str(stream_id), left_at, room, sequence
    )


def stop_viewer_publishing(room: str, identity: str) -> None:
    """Queue stopping a vendor participant who publishes without a live stream."""
    get_queue(DEFAULT_QUEUE).enqueue(STOP_VIEWER_PUBLISHING, room, identity, retry=vendor_retry())


def enqueue_follower_notifications(
    stream_id: uuid.UUID | str, after: tuple[datetime, uuid.UUID] | None = None
) -> None:
    """Queue the batch of the stream's followers that comes after `after` (None: the first)."""
    cursor = [after[0].isoformat(), str(after[1])] if after else None
    get_queue(DEFAULT_QUEUE).enqueue(
        NOTIFY_FOLLOWERS,
        str(stream_id),
        cursor,
        retry=Retry(max=len(FOLLOWER_RETRY_SECONDS), interval=FOLLOWER_RETRY_SECONDS),
    )


def enqueue_payment_event(event_id: uuid.UUID) -> None:
    """Queue the application of a stored payment event (one job id per event)."""
    get_queue(DEFAULT_QUEUE).enqueue(
        APPLY_PAYMENT_EVENT,
        str(event_id),
        job_id=f"payment-event-{event_id}",
        retry=Retry(max=len(PAYMENT_EVENT_RETRY_SECONDS), interval=PAYMENT_EVENT_RETRY_SECONDS),
    )


def enqueue_finish_purchase(purchase_id: uuid.UUID) -> None:
    """Queue the confirmation of a credited in-app purchase to its store."""
    get_queue(DEFAULT_QUEUE).enqueue(
        FINISH_STORE_PURCHASE,
        str(purchase_id),
        job_id=f"finish-purchase-{purchase_id}",
        retry=vendor_retry(),
    )
