"""The go-live fan-out: one job per batch of followers, each committed before the next runs."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from flask import current_app
from rq import Retry

from mylivelinks.extensions import db, get_queue
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.context import job
from mylivelinks.models import Stream
from mylivelinks.services.notifications.inbox import FollowerKey, announce, notify_follower_batch

log = logging.getLogger(__name__)
RETRY_SECONDS = [5, 30, 120]


def enqueue_follower_notifications(
    stream_id: uuid.UUID | str, after: FollowerKey | None = None
) -> None:
    """Queue the batch of the stream's followers that comes after `after` (None: the first)."""
    cursor = [after[0].isoformat(), str(after[1])] if after else None
    get_queue(DEFAULT_QUEUE).enqueue(
        notify_followers,
        str(stream_id),
        cursor,
        retry=Retry(max=len(RETRY_SECONDS), interval=RETRY_SECONDS),
    )


@job
def notify_followers(stream_id: str, after: list[str] | None = None) -> int:
    """Notify one batch of a live stream's followers, then queue the next batch.

    The batch is committed before its events are published and the next batch queued, so
    a run that fails after the commit is retried as a batch that inserts nothing again,
    and the chain still goes on. A stream no longer live stops the fan-out.
    """
    stream = db.session.get(Stream, uuid.UUID(stream_id))
    if stream is None or stream.status != "live":
        return 0
    key = (datetime.fromisoformat(after[0]), uuid.UUID(after[1])) if after else None
    batch = notify_follower_batch(stream, key, current_app.config["NOTIFICATION_BATCH_SIZE"])
    db.session.commit()
    announce(batch.inserted)
    if batch.next_after is not None:
        enqueue_follower_notifications(stream_id, batch.next_after)
    log.info(
        "followers notified",
        extra={
            "stream_id": stream_id,
            "count": len(batch.inserted),
            "last": batch.next_after is None,
        },
    )
    return len(batch.inserted)
