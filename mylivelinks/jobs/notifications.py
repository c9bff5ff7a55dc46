"""The go-live fan-out: one job per batch of followers, each committed before the next runs."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from flask import current_app

from mylivelinks.extensions import db
from mylivelinks.jobs.context import commit, job
from mylivelinks.models import Stream
from mylivelinks.models.streams import StreamStatus
from mylivelinks.services.notifications.inbox import notify_follower_batch

log = logging.getLogger(__name__)


@job
def notify_followers(stream_id: str, after: list[str] | None = None) -> int:
    """Notify one batch of a live stream's followers, then queue the next batch.

    The batch is committed before its events are published and the next batch queued, so
    a run that fails after the commit is retried as a batch that inserts nothing again,
    and the chain still goes on. A stream no longer live stops the fan-out.
    """
    stream = db.session.get(Stream, uuid.UUID(stream_id))
    if stream is None or stream.status != StreamStatus.LIVE:
        return 0
    key = (datetime.fromisoformat(after[0]), uuid.UUID(after[1])) if after else None
    batch = notify_follower_batch(stream, key, current_app.config["NOTIFICATION_BATCH_SIZE"])
    commit()  # then its notifications are pushed and the next batch queued
    log.info(
        "followers notified",
        extra={
            "stream_id": stream_id,
            "count": len(batch.inserted),
            "last": batch.next_after is None,
        },
    )
    return len(batch.inserted)
