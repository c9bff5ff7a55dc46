"""Jobs driven by the media vendor: apply its webhooks, end streams whose streamer left."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from prometheus_client import Counter

from mylivelinks.jobs.context import job
from mylivelinks.services.rooms.media_events import apply_event, end_if_still_gone

log = logging.getLogger(__name__)

PUBLISHED_WHILE_REVOKED = Counter(
    "mylivelinks_media_published_while_revoked_total",
    "Tracks a vendor reported published by a streamer whose publishing was revoked",
)


@job
def apply_media_event(record_id: str) -> str | None:
    """Apply one stored vendor event; what it decided is queued once committed."""
    application = apply_event(uuid.UUID(record_id), datetime.now(UTC))
    if application is None:
        return None
    if application.published_while_revoked:
        PUBLISHED_WHILE_REVOKED.inc()
        log.warning(
            "track published while revoked; revoking again",
            extra={"stream_id": str(application.rerevoke), "media_event": record_id},
        )
    return application.outcome


@job
def end_stream_if_still_gone(stream_id: str, left_at: datetime) -> bool:
    """End the stream of a streamer who left the vendor room and did not come back."""
    return bool(end_if_still_gone(uuid.UUID(stream_id), left_at, datetime.now(UTC)))
