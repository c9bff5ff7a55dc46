"""System lines in a room's chat: streams starting and ending, written with the change."""

from __future__ import annotations

from mylivelinks.events import chat as chat_events
from mylivelinks.extensions import db
from mylivelinks.models import ChatMessage, Profile, Room
from mylivelinks.models.chat import MAX_MESSAGE_LENGTH, MessageKind
from mylivelinks.transaction import after_commit


def system_line(room: Room, body: str) -> ChatMessage:
    """A `system` line in the room's chat; `chat:message` to the room once committed."""
    message = ChatMessage(
        room_id=room.id, author_id=None, kind=MessageKind.SYSTEM, body=body[:MAX_MESSAGE_LENGTH]
    )
    db.session.add(message)
    db.session.flush()
    payload = chat_events.payload_of(message, None)
    slug = room.slug
    after_commit(lambda: chat_events.message_posted(slug, payload))
    return message


def stream_started(room: Room, streamer_id, position: int) -> ChatMessage:
    """`<username> went live in box <position>`."""
    username = db.session.get_one(Profile, streamer_id).username
    return system_line(room, f"{username} went live in box {position}")


def stream_ended(room: Room, streamer_id, position: int | None) -> ChatMessage:
    """`<username>'s stream in box <position> ended` (without the box when it had none)."""
    username = db.session.get_one(Profile, streamer_id).username
    where = f" in box {position}" if position is not None else ""
    return system_line(room, f"{username}'s stream{where} ended")
