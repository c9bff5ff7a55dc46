"""After-commit announcements shared by the room and moderation endpoints."""

from __future__ import annotations

from mylivelinks.events import rooms as room_events
from mylivelinks.extensions import db
from mylivelinks.jobs.publishing import close_room_when_empty, request_sync
from mylivelinks.models import Profile, Stream
from mylivelinks.transaction import after_commit


def announce_end(slug: str, position: int | None, ended: Stream, seated: Stream | None) -> None:
    """Once committed: sync the ended stream, tell the room, seat the successor if any."""
    ended_uuid, reason = ended.id, ended.ended_reason
    ended_id = str(ended_uuid)
    after_commit(lambda: request_sync(ended_uuid))
    after_commit(lambda: room_events.stream_ended(slug, position, ended_id, reason))
    if seated is None:
        after_commit(lambda: close_room_when_empty(slug))
    elif position is not None:
        successor = db.session.get(Profile, seated.streamer_id)
        summary = {"id": str(successor.id), "username": successor.username}
        seated_id = str(seated.id)
        after_commit(lambda: room_events.streamer_seated(slug, position, seated_id, summary))


def announce_viewer_change(
    slug: str, position: int, stream_id, viewer_id: str, *, joined: bool, viewer_count: int
) -> None:
    """Once committed: sync the box's stream and tell the room its viewers changed."""
    after_commit(lambda: request_sync(stream_id))
    after_commit(
        lambda: room_events.viewers_changed(
            slug, position, viewer_id, joined=joined, viewer_count=viewer_count
        )
    )
