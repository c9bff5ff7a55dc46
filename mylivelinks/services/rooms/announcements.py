"""What a change in a room sets off once it commits: room events, publish syncs, vendor rooms
closed.

Each function registers after-commit effects (`mylivelinks.transaction.after_commit`) and
is called by the service making the change, so a request, a job and a CLI command doing
it announce it the same way. Payloads are plain values taken before the commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from mylivelinks.events import rooms as room_events
from mylivelinks.extensions import db
from mylivelinks.jobs.enqueue import (
    close_room_when_empty,
    enforce_revoke_later,
    open_room_later,
    request_sync,
)
from mylivelinks.models import Profile
from mylivelinks.models.streams import EndedReason
from mylivelinks.services.notifications import inbox
from mylivelinks.services.rooms.state import active_viewer_counts
from mylivelinks.transaction import after_commit


def _streamer_summary(streamer_id: uuid.UUID) -> dict[str, str]:
    streamer = db.session.get(Profile, streamer_id)
    if streamer is None:
        raise LookupError(f"no profile {streamer_id}")
    return {"id": str(streamer.id), "username": streamer.username}


def stream_started(slug: str, position: int, stream_id: uuid.UUID, streamer_id: uuid.UUID) -> None:
    """A streamer took a box: the room is told."""
    summary, stream = _streamer_summary(streamer_id), str(stream_id)
    after_commit(lambda: room_events.stream_started(slug, position, stream, summary))


def streamer_seated(slug: str, position: int, stream_id: uuid.UUID, streamer_id: uuid.UUID) -> None:
    """The queue seated a streamer in a freed box: the room is told, they get a stored
    `seated` notification and, with it, publisher credentials."""
    summary, stream = _streamer_summary(streamer_id), str(stream_id)
    notification = inbox.notify_seated(streamer_id, stream_id, slug, position)
    after_commit(lambda: room_events.streamer_seated(slug, position, stream, summary, notification))
    vendor_room_needed(slug, position)


def vendor_room_needed(slug: str, position: int) -> None:
    """A streamer took a box whose vendor room going live did not open (seated from the
    queue, or another box than expected): it is opened, so it is created with the
    service's settings (Twilio: durations, status callback), not by the client joining."""
    after_commit(lambda: open_room_later(slug, position))


def stream_ended(
    slug: str, position: int | None, stream_id: uuid.UUID, reason: EndedReason
) -> None:
    """A stream ended: its publishing is synced (revoked) and the room is told."""
    why = EndedReason(reason).value
    after_commit(lambda: request_sync(stream_id))
    after_commit(lambda: room_events.stream_ended(slug, position, str(stream_id), why))


def room_may_be_empty(slug: str, position: int | None) -> None:
    """A box freed with nobody to take it: its vendor room closes if nobody is live in it."""
    after_commit(lambda: close_room_when_empty(slug, position))


def viewers_changed(
    slug: str,
    position: int,
    stream_id: uuid.UUID,
    viewer_id: uuid.UUID,
    *,
    joined: bool,
    now: datetime,
) -> None:
    """A viewer opened or closed a box: its stream's publishing is synced, the room told."""
    count = active_viewer_counts([stream_id], now)[stream_id]
    stream, viewers = str(stream_id), [str(viewer_id)]
    after_commit(lambda: request_sync(stream_id))
    after_commit(
        lambda: room_events.viewers_changed(
            slug, position, stream, viewers, joined=joined, viewer_count=count
        )
    )


def viewers_timed_out(
    slug: str, position: int, stream_id: uuid.UUID, viewer_ids: list[uuid.UUID], count: int
) -> None:
    """Silent viewers were removed from a box: the room hears them leave, as if they had
    closed it, and the box's new count (the sweep resyncs publishing itself)."""
    stream, viewers = str(stream_id), [str(viewer_id) for viewer_id in viewer_ids]
    after_commit(
        lambda: room_events.viewers_changed(
            slug, position, stream, viewers, joined=False, viewer_count=count
        )
    )


def out_of_sync(stream_id: uuid.UUID) -> None:
    """A stream's publishing differs from its viewers: it gets a publish sync."""
    after_commit(lambda: request_sync(stream_id))


def publishing_applied(
    slug: str, position: int | None, stream_id: uuid.UUID, streamer_id: uuid.UUID, allowed: bool
) -> None:
    """The provider applied a publish change: the streamer and the room hear it; a revoke is
    enforced later where the vendor cannot stop a publisher itself."""
    stream = str(stream_id)
    after_commit(
        lambda: room_events.publishing_changed(slug, position, stream, streamer_id, allowed=allowed)
    )
    if not allowed:
        after_commit(lambda: enforce_revoke_later(stream_id))
