"""Publishing and reading events on Redis Streams: one stream per room, one per user.

Each entry has the fields `type` (an event name below) and `data` (JSON). Streams are
trimmed to about EVENT_STREAM_MAXLEN entries, the history a reconnecting client can catch
up from. Callers publish after their database commit (`mylivelinks.transaction.after_commit`);
nothing here touches the database.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime, time
from typing import Any

import orjson
from flask import current_app
from redis import ConnectionPool, Redis
from redis.typing import EncodableT, FieldT

from mylivelinks.extensions import get_redis

# Room events (SPEC §7), on the room's public stream.
VIEWER_JOINED = "viewer:joined"
VIEWER_LEFT = "viewer:left"
VIEWER_COUNT = "viewer:count"
BOX_CLAIMED = "box:claimed"
BOX_RELEASED = "box:released"
BOX_PUBLISHED = "box:published"
BOX_UNPUBLISHED = "box:unpublished"
CHAT_MESSAGE = "chat:message"
CHAT_DELETED = "chat:deleted"
GIFT_SENT = "gift:sent"
STREAM_STARTED = "stream:started"
STREAM_ENDED = "stream:ended"
LEADERBOARD_UPDATED = "leaderboard:updated"
ROOM_EVENT_TYPES = frozenset(
    {
        VIEWER_JOINED,
        VIEWER_LEFT,
        VIEWER_COUNT,
        BOX_CLAIMED,
        BOX_RELEASED,
        BOX_PUBLISHED,
        BOX_UNPUBLISHED,
        CHAT_MESSAGE,
        CHAT_DELETED,
        GIFT_SENT,
        STREAM_STARTED,
        STREAM_ENDED,
        LEADERBOARD_UPDATED,
    }
)

# Private events (SPEC §7), on one user's stream.
PUBLISH_START = "publish:start"
PUBLISH_STOP = "publish:stop"
GIFT_RECEIVED = "gift:received"
COINS_CREDITED = "coins:credited"
NOTIFICATION = "notification"
USER_EVENT_TYPES = frozenset(
    {PUBLISH_START, PUBLISH_STOP, GIFT_RECEIVED, COINS_CREDITED, NOTIFICATION}
)

DEFAULT_MAXLEN = 1000
# Before any entry exists, reading after 0-0 returns exactly the entries added later.
STREAM_START = "0-0"
# Both parts are unsigned 64-bit numbers; 19 digits always fit.
_STREAM_ID = re.compile(r"\d{1,19}-\d{1,19}")


@dataclass(frozen=True)
class Event:
    """One entry of an event stream."""

    id: str
    type: str
    data: dict[str, Any]


class EventBatch(list[Event]):
    """Events read from a stream, plus `last_id`: where the next read continues."""

    def __init__(self, events: Iterable[Event] = (), last_id: str = STREAM_START):
        super().__init__(events)
        self.last_id = last_id


def room_stream_key(slug: str) -> str:
    """The Redis key of a room's public stream."""
    return f"events:room:{slug}"


def user_stream_key(user_id: uuid.UUID | str) -> str:
    """The Redis key of a user's private stream."""
    return f"events:user:{user_id}"


def is_stream_id(value: str) -> bool:
    """Whether `value` is a complete Redis stream id (`<ms>-<seq>`)."""
    return _STREAM_ID.fullmatch(value) is not None


def id_order(stream_id: str) -> tuple[int, int]:
    """A stream id as a tuple that sorts like the stream does."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


# Everything orjson leaves to `_plain` (dates, dataclasses) is encoded the same way by
# the standard library's fallback.
_PASSTHROUGH = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
)


def _plain(value: Any) -> Any:
    """A value JSON cannot hold as text: timestamps in RFC 3339 (`T`, as REST sends them)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return str(value)


def encode_data(data: dict[str, Any]) -> str:
    """An event's data as stored in its stream entry (compact JSON; orjson, or the standard
    library for what orjson refuses, such as an integer past 64 bits)."""
    try:
        return orjson.dumps(data, default=_plain, option=_PASSTHROUGH).decode()
    except TypeError:
        return json.dumps(data, separators=(",", ":"), default=_plain)


def stream_maxlen() -> int:
    """About how many entries each event stream keeps (EVENT_STREAM_MAXLEN)."""
    return current_app.config.get("EVENT_STREAM_MAXLEN", DEFAULT_MAXLEN)


def _entry(event_type: str, data: dict[str, Any]) -> dict[FieldT, EncodableT]:
    return {"type": event_type, "data": encode_data(data)}


def publish(stream_key: str, event_type: str, data: dict[str, Any]) -> str:
    """Append one event to a stream (trimmed to about EVENT_STREAM_MAXLEN); returns its id."""
    return publish_many([(stream_key, event_type, data)])[0]


def publish_many(events: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """Append several (stream key, type, data) events in one round trip; returns their ids."""
    maxlen = stream_maxlen()
    pipe = get_redis().pipeline(transaction=False)
    for stream_key, event_type, data in events:
        pipe.xadd(stream_key, _entry(event_type, data), maxlen=maxlen, approximate=True)
    return [stream_id.decode() for stream_id in pipe.execute()]


def publish_room_event(slug: str, event_type: str, data: dict[str, Any]) -> str:
    """Publish an event to every client of room `slug`; returns the stream id."""
    return publish(room_stream_key(slug), event_type, data)


def publish_user_event(user_id: uuid.UUID | str, event_type: str, data: dict[str, Any]) -> str:
    """Publish an event to one user's private stream; returns the stream id."""
    return publish(user_stream_key(user_id), event_type, data)


def dedicated_client(read_timeout: float | None, name: str | None = None) -> Redis:
    """A client of the app's Redis on a connection of its own; disconnect its pool when done.

    For a long-lived blocking reader: XREAD BLOCK holds its connection while waiting, and
    the app's shared pool (100 connections at most) must stay free for requests and jobs.
    `read_timeout` must exceed the longest block (redis-py's default socket timeout is 5 s);
    `name` shows in CLIENT LIST.
    """
    shared = get_redis().connection_pool
    kwargs = {**shared.connection_kwargs, "socket_timeout": read_timeout, "client_name": name}
    pool = ConnectionPool(connection_class=shared.connection_class, max_connections=1, **kwargs)
    return Redis(connection_pool=pool)


def current_last_id(stream_key: str, redis: Redis | None = None) -> str:
    """The id of the newest entry of a stream (`0-0` when it has none)."""
    # redis-py types replies loosely; this client returns bytes.
    newest: Any = (redis or get_redis()).xrevrange(stream_key, count=1)
    return newest[0][0].decode() if newest else STREAM_START


def read_events(
    stream_key: str,
    last_id: str | None,
    block_ms: int | None,
    *,
    count: int = 100,
    redis: Redis | None = None,
) -> EventBatch:
    """Up to `count` events after `last_id`, waiting up to `block_ms` (None: no wait) for one.

    `last_id` None means only events published from now on. Unlike XREAD's `$`, the
    position is fixed when the call starts and returned as `last_id` even when nothing
    arrived, so the caller continues from it without missing an event in between.
    `redis` defaults to the app's shared client, whose socket timeout (5 s by default)
    bounds `block_ms`; longer blocking readers pass their own (`dedicated_client`).
    """
    redis = redis or get_redis()
    position = current_last_id(stream_key, redis) if last_id is None else last_id
    reply: Any = redis.xread({stream_key: position}, count=count, block=block_ms)
    events = [
        Event(id=entry_id.decode(), type=fields[b"type"].decode(), data=json.loads(fields[b"data"]))
        for _key, entries in reply or ()
        for entry_id, fields in entries
    ]
    return EventBatch(events, events[-1].id if events else position)
