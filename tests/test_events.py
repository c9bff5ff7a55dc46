"""Real-time events: publishing to and reading from Redis Streams, and the SSE wire format."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

from mylivelinks.events import streams
from mylivelinks.events.sse import format_event
from mylivelinks.events.streams import (
    Event,
    encode_data,
    publish_room_event,
    publish_user_event,
    read_events,
    room_stream_key,
    user_stream_key,
)
from mylivelinks.extensions import get_redis

# --- streams -------------------------------------------------------------------------------


def test_publish_then_read_round_trip(app):
    key = room_stream_key("lobby")
    with app.app_context():
        empty = read_events(key, None, None)
        assert empty == []
        assert empty.last_id == "0-0"

        ids = [
            publish_room_event("lobby", streams.VIEWER_JOINED, {"user": "ann"}),
            publish_room_event("lobby", streams.VIEWER_COUNT, {"count": 1}),
            publish_room_event("lobby", streams.CHAT_MESSAGE, {"body": "héllo\nworld"}),
        ]
        batch = read_events(key, "0-0", None)

    assert batch == [
        Event(ids[0], "viewer:joined", {"user": "ann"}),
        Event(ids[1], "viewer:count", {"count": 1}),
        Event(ids[2], "chat:message", {"body": "héllo\nworld"}),
    ]
    assert batch.last_id == ids[2]


def test_read_after_an_id_returns_only_later_events_in_order(app):
    with app.app_context():
        ids = [publish_user_event("u1", streams.NOTIFICATION, {"n": n}) for n in range(5)]
        batch = read_events(user_stream_key("u1"), ids[1], None)
        assert [event.id for event in batch] == ids[2:]
        assert [event.data["n"] for event in batch] == [2, 3, 4]
        assert read_events(user_stream_key("u1"), ids[-1], None) == []


def test_reading_new_events_only_returns_a_position_that_misses_nothing(app):
    key = room_stream_key("lobby")
    with app.app_context():
        old = publish_room_event("lobby", streams.BOX_CLAIMED, {"position": 1})
        nothing = read_events(key, None, 20)
        assert nothing == []
        assert nothing.last_id == old
        # Published between two reads: a second `$` read would never see it.
        new = publish_room_event("lobby", streams.BOX_RELEASED, {"position": 1})
        assert [event.id for event in read_events(key, nothing.last_id, None)] == [new]


def test_a_blocking_read_wakes_up_on_publish(app):
    def publish_soon() -> None:
        time.sleep(0.2)
        with app.app_context():
            publish_room_event("lobby", streams.STREAM_STARTED, {"stream": 1})

    publisher = threading.Thread(target=publish_soon)
    with app.app_context():
        position = read_events(room_stream_key("lobby"), None, None).last_id
        publisher.start()
        started = time.monotonic()
        batch = read_events(room_stream_key("lobby"), position, 10_000)
    publisher.join()
    assert [event.type for event in batch] == ["stream:started"]
    assert time.monotonic() - started < 5


def test_room_and_user_streams_have_their_own_keys(app):
    user_id = uuid.uuid4()
    with app.app_context():
        publish_room_event("lobby", streams.GIFT_SENT, {"gift": "Rose"})
        publish_user_event(user_id, streams.GIFT_RECEIVED, {"gift": "Rose"})
        redis = get_redis()
        assert redis.xlen("events:room:lobby") == 1
        assert redis.xlen(f"events:user:{user_id}") == 1


def test_streams_are_bounded_by_event_stream_maxlen(app, monkeypatch):
    monkeypatch.setitem(app.config, "EVENT_STREAM_MAXLEN", 200)
    with app.app_context():
        ids = [publish_room_event("busy", streams.VIEWER_COUNT, {"n": n}) for n in range(1000)]
        redis = get_redis()
        # `MAXLEN ~` trims whole radix-tree nodes (100 entries each by default).
        assert 200 <= redis.xlen("events:room:busy") <= 300
        batch = read_events(room_stream_key("busy"), "0-0", None, count=1000)
    assert [event.id for event in batch][-200:] == ids[-200:]


def test_streams_default_to_about_1000_entries(app):
    assert app.config["EVENT_STREAM_MAXLEN"] == 1000
    with app.app_context():
        for n in range(1300):
            publish_room_event("busy", streams.VIEWER_COUNT, {"n": n})
        assert 1000 <= get_redis().xlen("events:room:busy") <= 1100


def test_event_types_of_the_spec():
    room_events = {
        "viewer:joined",
        "viewer:left",
        "viewer:count",
        "box:claimed",
        "box:released",
        "box:published",
        "box:unpublished",
        "chat:message",
        "chat:deleted",
        "gift:sent",
        "stream:started",
        "stream:ended",
        "leaderboard:updated",
    }
    user_events = {
        "publish:start",
        "publish:stop",
        "gift:received",
        "coins:credited",
        "notification",
    }
    assert room_events == streams.ROOM_EVENT_TYPES
    assert user_events == streams.USER_EVENT_TYPES


def test_sse_wire_format():
    event = Event("1700000000000-3", "chat:message", {"body": "two\nlines"})
    assert format_event(event) == (
        b'id: 1700000000000-3\nevent: chat:message\ndata: {"body":"two\\nlines"}\n\n'
    )


def test_stored_events_read_as_the_standard_librarys_json():
    sample = {
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "at": datetime(2026, 11, 22, 6, 30, 5, 123456, tzinfo=UTC),
        "gift": "🌹 Rose, ünïcode",
        "nested": [{"a": 1, "b": None, "c": True}, 2.5],
    }
    standard = json.dumps(sample, separators=(",", ":"), default=str)

    assert json.loads(encode_data(sample)) == {
        **json.loads(standard),
        "at": "2026-11-22T06:30:05.123456+00:00",
    }
    assert json.loads(encode_data({"balance": 2**70})) == {"balance": 2**70}  # past orjson


def test_timestamps_in_events_are_rfc_3339_like_rest_and_credentials_are_plain_data():
    from mylivelinks.providers.base import Credentials

    at = datetime(2026, 12, 2, 10, 41, 23, tzinfo=UTC)
    credentials = Credentials("local", "ws://x", "t", "main", "alice", "publisher", at)
    for data in ({"at": at, "credentials": credentials}, {"at": at, "big": 2**70}):
        decoded = json.loads(encode_data(data))
        assert decoded["at"] == "2026-12-02T10:41:23+00:00"
        assert datetime.fromisoformat(decoded["at"]) == at
    decoded = json.loads(encode_data({"credentials": credentials}))
    assert decoded["credentials"]["expires_at"] == "2026-12-02T10:41:23+00:00"
    assert decoded["credentials"]["identity"] == "alice"
