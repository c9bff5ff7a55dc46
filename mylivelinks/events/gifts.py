"""What rooms and streamers are told when a gift is sent (after it committed)."""

from __future__ import annotations

from typing import Any

from mylivelinks.events.streams import (
    GIFT_RECEIVED,
    GIFT_SENT,
    publish_room_event,
    publish_user_event,
)
from mylivelinks.extensions import get_redis

COMBO_SECONDS = 10


def _person(profile) -> dict[str, Any]:
    return {"id": str(profile.id), "username": profile.username}


def announcement(gift: dict[str, Any]) -> dict[str, Any]:
    """The event payload of a gift view (plain data, computed before the commit)."""
    gift_type = gift["gift_type"]
    return {
        "gift_id": str(gift["id"]),
        "sender": _person(gift["sender"]),
        "recipient": _person(gift["recipient"]),
        "room": gift["room"],
        "position": gift["position"],
        "stream_id": str(gift["stream_id"]) if gift["stream_id"] else None,
        "gift": {
            "id": str(gift_type.id),
            "name": gift_type.name,
            "emoji": gift_type.emoji,
            "animation": gift_type.animation,
            "rarity": gift_type.rarity,
        },
        "quantity": gift["quantity"],
        "coins": gift["coins"],
    }


def combo_count(sender_id: str, recipient_id: str, gift_type_id: str) -> int:
    """How many of the same gift the sender sent the recipient in a row, each within 10 s."""
    key = f"gift-combo:{sender_id}:{recipient_id}:{gift_type_id}"
    pipe = get_redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, COMBO_SECONDS)
    return int(pipe.execute()[0])


def gift_sent(payload: dict[str, Any]) -> None:
    """`gift:sent` to the room (when sent to a box) and `gift:received` to the recipient."""
    combo = combo_count(payload["sender"]["id"], payload["recipient"]["id"], payload["gift"]["id"])
    event = {**payload, "combo": combo}
    if payload["room"] is not None:
        publish_room_event(payload["room"], GIFT_SENT, event)
    publish_user_event(payload["recipient"]["id"], GIFT_RECEIVED, event)
