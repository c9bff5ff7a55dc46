"""System lines in a room's chat (streams starting and ending, gifts), announced on commit."""

from __future__ import annotations

import uuid

from mylivelinks.events import chat as chat_events
from mylivelinks.services import chat
from mylivelinks.transaction import after_commit


def system_line(room_id: uuid.UUID, slug: str, kind: str, body: str) -> None:
    """Write a `system` or `gift` line with the request's change; `chat:message` on commit."""
    message = chat.post_system(room_id, kind, body)
    payload = chat_events.message_payload(
        {
            "id": message.id,
            "kind": message.kind,
            "body": message.body,
            "author": None,
            "created_at": message.created_at,
        }
    )
    after_commit(lambda: chat_events.message_posted(slug, payload))
