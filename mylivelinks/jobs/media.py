"""Jobs driven by the media vendor: apply its webhooks, and close rooms nobody streams in."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from prometheus_client import Counter

from mylivelinks.extensions import db, get_queue
from mylivelinks.jobs import DEFAULT_QUEUE, vendor_retry
from mylivelinks.jobs.context import job
from mylivelinks.jobs.publishing import announce_seat_changes, request_sync, sync_publish
from mylivelinks.models import MediaEventRecord
from mylivelinks.services.rooms.media_events import apply_event, end_if_still_gone

log = logging.getLogger(__name__)

PUBLISHED_WHILE_REVOKED = Counter(
    "mylivelinks_media_published_while_revoked_total",
    "Tracks a vendor reported published by a streamer whose publishing was revoked",
)


def enqueue_media_events(record_ids: list[uuid.UUID]) -> None:
    """Queue one `apply_media_event` per stored webhook event."""
    queue = get_queue(DEFAULT_QUEUE)
    for record_id in record_ids:
        queue.enqueue(apply_media_event, str(record_id), retry=vendor_retry())


@job
def apply_media_event(record_id: str) -> str | None:
    """Apply one stored vendor event; vendor calls and rechecks are queued after the commit."""
    now = datetime.now(UTC)
    application = apply_event(uuid.UUID(record_id), now)
    db.session.commit()
    if application is None:
        return None
    if application.recheck_stream_id is not None:
        grace = timedelta(seconds=current_app.config["MEDIA_LEFT_GRACE_SECONDS"])
        left_at = db.session.get(MediaEventRecord, uuid.UUID(record_id)).occurred_at
        get_queue(DEFAULT_QUEUE).enqueue_in(
            grace, end_stream_if_still_gone, str(application.recheck_stream_id), left_at
        )
    if application.rerevoke is not None:
        if application.published_while_revoked:
            PUBLISHED_WHILE_REVOKED.inc()
            log.warning(
                "track published while revoked; revoking again",
                extra={"stream_id": str(application.rerevoke), "media_event": record_id},
            )
        # A job of its own (the event is already marked applied, so a failing vendor call
        # is retried there), run under the stream's sync lock and only if still revoked.
        get_queue(DEFAULT_QUEUE).enqueue(
            sync_publish, str(application.rerevoke), reassert=True, retry=vendor_retry()
        )
    ended, seated = application.ended
    _announce(ended, seated, "provider_room_finished")
    return application.outcome


@job
def end_stream_if_still_gone(stream_id: str, left_at: datetime) -> bool:
    """End the stream of a streamer who left the vendor room and did not come back."""
    ended, seated = end_if_still_gone(uuid.UUID(stream_id), left_at, datetime.now(UTC))
    db.session.commit()
    _announce(ended, seated, "provider_left")
    return bool(ended)


def _announce(ended, seated, reason: str) -> None:
    for change in ended:
        request_sync(change.stream_id)
    announce_seat_changes(ended, seated, reason)
