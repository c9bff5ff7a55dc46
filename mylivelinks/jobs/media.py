"""Jobs driven by the media vendor: apply its webhooks, end streams whose streamer left."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from prometheus_client import Counter

from mylivelinks.jobs.context import commit, job
from mylivelinks.providers import media_provider
from mylivelinks.services.rooms.media_events import (
    apply_event,
    end_if_still_gone,
    gone_check_target,
    is_live_in,
)

log = logging.getLogger(__name__)

PUBLISHED_WHILE_REVOKED = Counter(
    "mylivelinks_media_published_while_revoked_total",
    "Tracks a vendor reported published by a streamer whose publishing was revoked",
)
VIEWERS_STOPPED = Counter(
    "mylivelinks_media_viewers_stopped_total",
    "Participants without a live stream whom the vendor reported publishing, then stopped",
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
def end_stream_if_still_gone(
    stream_id: str, left_at: datetime, room: str | None = None, sequence: int | None = None
) -> bool:
    """End the stream of a streamer who left vendor `room` and did not come back.

    The vendor is asked first whether they are connected (outside any transaction);
    where it cannot tell, the events it sent decide (see `end_if_still_gone`).
    """
    identity = gone_check_target(uuid.UUID(stream_id))
    commit()
    if identity is None:
        return False
    present = media_provider().participant_present(room, identity) if room else None
    ended = end_if_still_gone(
        uuid.UUID(stream_id),
        left_at,
        datetime.now(UTC),
        present=present,
        left_room=room,
        left_sequence=sequence,
    )
    return bool(ended)


@job
def open_media_room(slug: str, position: int) -> str:
    """Open the vendor room of a box a streamer was given (idempotent at the vendor)."""
    room = media_provider().vendor_room(slug, position)
    media_provider().open_room(room)
    return room


@job
def stop_viewer_publishing(room: str, identity: str) -> str:
    """Stop a participant publishing in vendor `room` without a live stream there (their
    token could not stop them): revoked at the vendor, disconnected where that is the way."""
    if is_live_in(media_provider().room_of(room)[0], identity):
        return "live now: their stream's own sync decides"
    commit()
    provider = media_provider()
    provider.set_publishing(room, identity, False)
    provider.enforce_revoke(room, identity)
    VIEWERS_STOPPED.inc()
    log.warning("a viewer published; stopped", extra={"room": room, "identity": identity})
    return "stopped"
