"""What the room's clients are told when boxes, streams and viewers change.

Called once the change committed, from the after-commit effects the room services
register (`services/rooms/announcements.py`); payloads are plain data computed before.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from mylivelinks.events.streams import (
    BOX_CLAIMED,
    BOX_PUBLISHED,
    BOX_RELEASED,
    BOX_UNPUBLISHED,
    NOTIFICATION,
    PUBLISH_START,
    PUBLISH_STOP,
    STREAM_ENDED,
    STREAM_STARTED,
    VIEWER_COUNT,
    VIEWER_JOINED,
    VIEWER_LEFT,
    publish_room_event,
    publish_user_event,
)
from mylivelinks.providers import box_room, media_credentials
from mylivelinks.providers.base import Credentials


def stream_started(slug: str, position: int, stream_id: str, streamer: dict[str, Any]) -> None:
    """A streamer took a box."""
    box = {"position": position, "stream_id": stream_id, "streamer": streamer}
    publish_room_event(slug, BOX_CLAIMED, box)
    publish_room_event(slug, STREAM_STARTED, box)


def stream_ended(slug: str, position: int | None, stream_id: str, reason: str) -> None:
    """A stream ended and its box is free."""
    publish_room_event(slug, STREAM_ENDED, {"stream_id": stream_id, "reason": reason})
    if position is not None:
        publish_room_event(slug, BOX_RELEASED, {"position": position, "stream_id": stream_id})


def seated_from_queue(
    streamer_id: str, notification: dict[str, Any], credentials: Credentials
) -> None:
    """Tell a waiting streamer they have a box now: their stored `seated` notification,
    whose data carries publisher credentials here (they are not stored)."""
    data = {**notification["data"], "credentials": asdict(credentials)}
    publish_user_event(streamer_id, NOTIFICATION, {**notification, "data": data})


def streamer_seated(
    slug: str,
    position: int,
    stream_id: str,
    streamer: dict[str, Any],
    notification: dict[str, Any],
) -> None:
    """A queued streamer got a freed box: the room sees it, they get publisher credentials."""
    stream_started(slug, position, stream_id, streamer)
    credentials = media_credentials(box_room(slug, position), streamer["id"], "publisher")
    seated_from_queue(streamer["id"], notification, credentials)


def viewers_changed(
    slug: str,
    position: int,
    stream_id: str,
    viewer_ids: list[str],
    *,
    joined: bool,
    viewer_count: int,
) -> None:
    """Viewers opened or closed a box (or left it by going silent): one `viewer:joined` or
    `viewer:left` each, then the box's new `viewer:count`."""
    kind = VIEWER_JOINED if joined else VIEWER_LEFT
    box = {"position": position, "stream_id": stream_id}
    for viewer_id in viewer_ids:
        publish_room_event(slug, kind, {**box, "viewer_id": viewer_id})
    publish_room_event(slug, VIEWER_COUNT, {**box, "viewer_count": viewer_count})


def publishing_changed(
    slug: str, position: int | None, stream_id: str, streamer_id: uuid.UUID, *, allowed: bool
) -> None:
    """The provider now lets the streamer publish (or not): the room and the streamer hear it.

    A revoke comes with fresh subscriber credentials: where the vendor switches roles by
    token (Agora), the client rejoins with them; elsewhere it may ignore them.
    """
    box = {"position": position, "stream_id": stream_id}
    credentials = media_credentials(
        box_room(slug, position), str(streamer_id), "publisher" if allowed else "subscriber"
    )
    publish_user_event(
        streamer_id,
        PUBLISH_START if allowed else PUBLISH_STOP,
        {**box, "room": slug, "credentials": asdict(credentials)},
    )
    publish_room_event(slug, BOX_PUBLISHED if allowed else BOX_UNPUBLISHED, box)
