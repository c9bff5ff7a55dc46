"""What a room's clients are told about its chat (after the change committed)."""

from __future__ import annotations

from typing import Any

from mylivelinks.events.streams import CHAT_DELETED, CHAT_MESSAGE, publish_room_event


def message_payload(message: dict[str, Any]) -> dict[str, Any]:
    """The event payload of a message view (plain data, computed before the commit)."""
    author = message["author"]
    return {
        "id": str(message["id"]),
        "kind": message["kind"],
        "body": message["body"],
        "author": {"id": str(author.id), "username": author.username} if author else None,
        "created_at": message["created_at"].isoformat() if message["created_at"] else None,
    }


def payload_of(message: Any, author: Any) -> dict[str, Any]:
    """The event payload of a flushed chat message and its author (None for a system line)."""
    return message_payload(
        {
            "id": message.id,
            "kind": message.kind,
            "body": message.body,
            "author": author,
            "created_at": message.created_at,
        }
    )


def message_posted(slug: str, payload: dict[str, Any]) -> None:
    """`chat:message` to the room."""
    publish_room_event(slug, CHAT_MESSAGE, payload)


def message_deleted(slug: str, message_id: str) -> None:
    """`chat:deleted` to the room: clients remove the message."""
    publish_room_event(slug, CHAT_DELETED, {"id": message_id})
