"""What rooms and streamers are told when a gift is sent (after it committed)."""

from __future__ import annotations

from typing import Any

from mylivelinks.events.chat import message_payload
from mylivelinks.events.streams import (
    CHAT_MESSAGE,
    GIFT_RECEIVED,
    GIFT_SENT,
    publish_many,
    room_stream_key,
    user_stream_key,
)
from mylivelinks.extensions import get_redis

COMBO_SECONDS = 10


def _person(profile) -> dict[str, Any]:
    return {"id": str(profile.id), "username": profile.username}


def announcement(gift) -> dict[str, Any]:
    """The event payload of a sent gift (plain data, computed before the commit)."""
    gift_type = gift.gift_type
    return {
        "gift_id": str(gift.id),
        "sender": _person(gift.sender),
        "recipient": _person(gift.recipient),
        "room": gift.room,
        "position": gift.position,
        "stream_id": str(gift.stream_id) if gift.stream_id else None,
        "gift": {
            "id": str(gift_type.id),
            "name": gift_type.name,
            "emoji": gift_type.emoji,
            "animation": gift_type.animation,
            "rarity": gift_type.rarity,
        },
        "quantity": gift.quantity,
        "coins": gift.coins,
    }


def chat_line_payload(gift) -> dict[str, Any] | None:
    """The `chat:message` payload of the gift's line in the room chat, if it has one."""
    if gift.chat_line is None:
        return None
    return message_payload({**gift.chat_line, "kind": "gift", "author": None})


def combo_count(sender_id: str, recipient_id: str, gift_type_id: str) -> int:
    """How many of the same gift the sender sent the recipient in a row, each within 10 s."""
    key = f"gift-combo:{sender_id}:{recipient_id}:{gift_type_id}"
    pipe = get_redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, COMBO_SECONDS)
    return int(pipe.execute()[0])


def gift_sent(payload: dict[str, Any], chat_line: dict[str, Any] | None = None) -> None:
    """The chat line and `gift:sent` to the room (sent to a box), `gift:received` to the
    recipient: one round trip after the combo count."""
    combo = combo_count(payload["sender"]["id"], payload["recipient"]["id"], payload["gift"]["id"])
    event = {**payload, "combo": combo}
    events = []
    if payload["room"] is not None:
        room = room_stream_key(payload["room"])
        if chat_line is not None:
            events.append((room, CHAT_MESSAGE, chat_line))
        events.append((room, GIFT_SENT, event))
    events.append((user_stream_key(payload["recipient"]["id"]), GIFT_RECEIVED, event))
    publish_many(events)
