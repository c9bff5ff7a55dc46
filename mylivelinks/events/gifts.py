"""What rooms and streamers are told when a gift is sent (after it committed)."""

from __future__ import annotations

import functools
from typing import Any

from redis import Redis
from redis.commands.core import Script

from mylivelinks.events.chat import message_payload
from mylivelinks.events.streams import (
    CHAT_MESSAGE,
    GIFT_RECEIVED,
    GIFT_SENT,
    encode_data,
    room_stream_key,
    stream_maxlen,
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


# One round trip: count the combo (each gift within COMBO_SECONDS of the last one of the
# same kind), then append the events, closing the JSON of those that carry the count.
_PUBLISH_WITH_COMBO = """
local combo = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
for i = 2, #KEYS do
    local at = 3 + (i - 2) * 3
    local data = ARGV[at + 1]
    if ARGV[at + 2] == '1' then
        data = data .. combo .. '}'
    end
    redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', 'type', ARGV[at], 'data', data)
end
return combo
"""


@functools.lru_cache(maxsize=8)
def _publish_with_combo(client: Redis) -> Script:
    return client.register_script(_PUBLISH_WITH_COMBO)


def gift_sent(payload: dict[str, Any], chat_line: dict[str, Any] | None = None) -> int:
    """The chat line and `gift:sent` to the room (sent to a box), `gift:received` to the
    recipient, both with the combo count: one round trip. Returns the combo count."""
    # The event's JSON without its closing brace, so the count can end it: `..."combo":3}`.
    with_combo = encode_data(payload)[:-1] + ',"combo":'
    events = []
    if payload["room"] is not None:
        room = room_stream_key(payload["room"])
        if chat_line is not None:
            events.append((room, CHAT_MESSAGE, encode_data(chat_line), "0"))
        events.append((room, GIFT_SENT, with_combo, "1"))
    events.append((user_stream_key(payload["recipient"]["id"]), GIFT_RECEIVED, with_combo, "1"))
    combo_key = (
        f"gift-combo:{payload['sender']['id']}:{payload['recipient']['id']}:{payload['gift']['id']}"
    )
    client = get_redis()
    return _publish_with_combo(client)(
        keys=[combo_key, *(stream_key for stream_key, *_ in events)],
        args=[
            COMBO_SECONDS,
            stream_maxlen(),
            *(value for _, *fields in events for value in fields),
        ],
        client=client,
    )
