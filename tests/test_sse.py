"""Server-Sent Events over a real HTTP server: delivery, resume, auth, keep-alives, hubs."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select
from werkzeug.serving import make_server

from mylivelinks.events import sse, streams
from mylivelinks.events.streams import (
    publish_room_event,
    publish_user_event,
    room_stream_key,
    user_stream_key,
)
from mylivelinks.extensions import db, get_redis
from mylivelinks.models import Room

# --- SSE over HTTP ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(app) -> Iterator[tuple[str, int]]:
    """The app served by a threaded werkzeug server on 127.0.0.1; yields (host, port)."""
    http_server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", http_server.server_port
    http_server.shutdown()
    http_server.server_close()


class SseClient:
    """One streaming GET read block by block."""

    def __init__(self, server: tuple[str, int], path: str, headers: dict | None = None):
        self.connection = http.client.HTTPConnection(*server, timeout=10)
        self.connection.request("GET", "/api/v1" + path, headers=headers or {})
        self.response = self.connection.getresponse()

    def block(self) -> dict[str, str] | None:
        """The next block (fields by name, comments under ":"); None at the end of the body."""
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode()
            if not line:
                return None
            line = line.rstrip("\n")
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            fields[name or ":"] = value.removeprefix(" ")

    def event(self) -> dict[str, str]:
        """The next event, skipping keep-alives and hints."""
        while True:
            block = self.block()
            assert block is not None, "the stream ended"
            if "event" in block:
                return {**block, "data": json.loads(block["data"])}

    def start_id(self) -> str:
        """The first block's `id`, after checking the retry hint."""
        block = self.block()
        assert block is not None
        assert int(block["retry"]) > 0
        return block["id"]

    def close(self) -> None:
        """Hang up (the response holds the socket: the server answers `Connection: close`)."""
        self.response.close()
        self.connection.close()


@pytest.fixture
def clients() -> Iterator[list[SseClient]]:
    opened: list[SseClient] = []
    yield opened
    for client in opened:
        client.close()


@pytest.fixture
def connect(server, clients):
    def open_stream(path: str, headers: dict | None = None, **query: str) -> SseClient:
        client = SseClient(server, path + ("?" + urlencode(query) if query else ""), headers)
        clients.append(client)
        return client

    return open_stream


@pytest.fixture
def room(app) -> str:
    """A committed group room; returns its slug."""
    # A fresh slug per test: the server's hubs of earlier tests may still be winding down
    # on keys that FLUSHDB has since emptied.
    slug = f"stage-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        db.session.add(Room(slug=slug, name="Stage", kind="group", box_count=12))
        db.session.commit()
        db.session.remove()
    return slug


def publish(app, slug: str, event_type: str, data: dict) -> str:
    with app.app_context():
        return publish_room_event(slug, event_type, data)


@pytest.mark.real_session
def test_room_stream_delivers_events_published_after_connecting(app, api, connect, room):
    token = api.register()["access_token"]
    client = connect(f"/rooms/{room}/events", api.bearer(token))

    assert client.response.status == 200
    assert client.response.getheader("Content-Type").startswith("text/event-stream")
    assert client.response.getheader("Cache-Control") == "no-cache"
    assert client.response.getheader("X-Accel-Buffering") == "no"
    client.start_id()
    first = publish(app, room, streams.BOX_CLAIMED, {"position": 3})
    second = publish(app, room, streams.VIEWER_COUNT, {"count": 7})

    assert client.event() == {"id": first, "event": "box:claimed", "data": {"position": 3}}
    assert client.event() == {"id": second, "event": "viewer:count", "data": {"count": 7}}


@pytest.mark.real_session
def test_reconnecting_with_last_event_id_gets_exactly_the_missed_events(app, api, connect, room):
    headers = api.auth(api.register())
    path = f"/rooms/{room}/events"
    client = connect(path, headers)
    client.start_id()
    seen = [publish(app, room, streams.CHAT_MESSAGE, {"n": n}) for n in range(2)]
    assert [client.event()["id"] for _ in seen] == seen
    client.close()

    missed = [publish(app, room, streams.CHAT_MESSAGE, {"n": n}) for n in range(2, 6)]
    again = connect(path, {**headers, "Last-Event-ID": seen[-1]})
    assert again.start_id() == seen[-1]
    assert [again.event() for _ in missed] == [
        {"id": event_id, "event": "chat:message", "data": {"n": n}}
        for n, event_id in enumerate(missed, start=2)
    ]
    later = publish(app, room, streams.CHAT_MESSAGE, {"n": 6})
    assert again.event()["id"] == later  # nothing sent twice


@pytest.mark.real_session
def test_a_client_that_got_no_event_resumes_from_the_start_id(app, api, connect, room):
    token = api.register()["access_token"]
    path = f"/rooms/{room}/events"
    publish(app, room, streams.VIEWER_JOINED, {"n": 0})  # before connecting: not delivered
    client = connect(path, access_token=token)
    start = client.start_id()
    client.close()

    missed = publish(app, room, streams.VIEWER_JOINED, {"n": 1})
    again = connect(path, access_token=token, last_event_id=start)
    again.start_id()
    assert again.event()["id"] == missed


@pytest.mark.real_session
def test_last_event_id_header_wins_over_the_query_parameter(app, api, connect, room):
    token = api.register()["access_token"]
    ids = [publish(app, room, streams.VIEWER_JOINED, {"n": n}) for n in range(3)]
    client = connect(
        f"/rooms/{room}/events",
        {"Last-Event-ID": ids[1]},
        access_token=token,
        last_event_id=ids[0],
    )
    assert client.start_id() == ids[1]
    assert client.event()["id"] == ids[2]


@pytest.mark.real_session
def test_access_token_query_parameter_authenticates(app, api, connect, room):
    session = api.register()
    client = connect(f"/rooms/{room}/events", access_token=session["access_token"])
    assert client.response.status == 200
    client.start_id()
    event_id = publish(app, room, streams.GIFT_SENT, {"gift": "Rose", "animation": "float"})
    assert client.event()["id"] == event_id

    mine = connect("/me/events", access_token=session["access_token"])
    assert mine.response.status == 200


@pytest.mark.real_session
@pytest.mark.parametrize(
    ("room_path", "headers", "query"),
    [
        (False, {}, {}),
        *(
            (room_path, headers, query)
            for room_path in (True, False)
            for headers, query in (
                ({}, {"access_token": "not-a-token"}),
                ({}, {"ticket": "not-a-ticket"}),
                ({"Authorization": "Bearer not-a-token"}, {}),
                ({"Authorization": "Basic dXNlcjpwYXNz"}, {}),
            )
        ),
    ],
)
def test_missing_or_invalid_token_is_401(connect, room, room_path, headers, query):
    client = connect(f"/rooms/{room}/events" if room_path else "/me/events", headers, **query)
    assert client.response.status == 401
    assert client.response.getheader("WWW-Authenticate", "").startswith("Bearer")
    body = json.loads(client.response.read())
    assert body["code"] == 401
    assert body["status"] == "Unauthorized"


@pytest.mark.real_session
def test_unknown_room_is_404(api, connect):
    client = connect("/rooms/nowhere/events", api.auth(api.register()))
    assert client.response.status == 404
    assert json.loads(client.response.read())["code"] == 404


@pytest.mark.real_session
def test_malformed_last_event_id_is_422(api, connect, room):
    headers = api.auth(api.register())
    bad = ["yesterday", "1-2-3", "1700000000000", "99999999999999999999-0"]
    by_header = [connect(f"/rooms/{room}/events", {**headers, "Last-Event-ID": v}) for v in bad]
    by_query = [connect("/me/events", headers, last_event_id=value) for value in bad]
    for client in by_header + by_query:
        assert client.response.status == 422
        assert json.loads(client.response.read())["code"] == 422


@pytest.mark.real_session
def test_keep_alive_comments_when_idle(app, api, connect, room, monkeypatch):
    monkeypatch.setitem(app.config, "SSE_KEEPALIVE_SECONDS", 0.2)
    client = connect(f"/rooms/{room}/events", api.auth(api.register()))
    client.start_id()
    started = time.monotonic()
    assert client.block() == {":": "keep-alive"}
    assert client.block() == {":": "keep-alive"}
    assert time.monotonic() - started < 3
    event_id = publish(app, room, streams.VIEWER_LEFT, {"user": "ann"})
    assert client.event()["id"] == event_id


@pytest.mark.real_session
def test_stream_ends_after_sse_max_seconds(app, api, connect, room, monkeypatch):
    monkeypatch.setitem(app.config, "SSE_MAX_SECONDS", 0.5)
    client = connect(f"/rooms/{room}/events", api.auth(api.register()))
    client.start_id()
    started = time.monotonic()
    while client.block() is not None:
        pass
    assert time.monotonic() - started < 5


@pytest.mark.real_session
def test_private_streams_are_isolated(app, api, connect):
    ann, bob = api.register(), api.register()
    ann_client = connect("/me/events", api.auth(ann))
    bob_client = connect("/me/events", access_token=bob["access_token"])
    ann_client.start_id()
    bob_client.start_id()
    with app.app_context():
        for_bob = publish_user_event(bob["user"]["id"], streams.COINS_CREDITED, {"coins": 5})
        for_ann = publish_user_event(ann["user"]["id"], streams.NOTIFICATION, {"text": "hi"})

    # Bob's event was published first: had it reached Ann, it would come before hers.
    assert ann_client.event() == {"id": for_ann, "event": "notification", "data": {"text": "hi"}}
    assert bob_client.event() == {"id": for_bob, "event": "coins:credited", "data": {"coins": 5}}
    # Resuming from an id of Bob's stream still reads Ann's own stream only.
    again = connect("/me/events", {**api.auth(ann), "Last-Event-ID": "0-0"})
    again.start_id()
    assert again.event()["id"] == for_ann


@pytest.mark.real_session
def test_open_streams_hold_no_database_connection(app, api, connect, room):
    headers = api.auth(api.register())
    for _ in range(3):
        connect(f"/rooms/{room}/events", headers).start_id()
        connect("/me/events", headers).start_id()
    with app.app_context():
        assert db.engine.pool.checkedout() == 0


def hub_connections(app, key: str) -> int:
    """Redis connections of the SSE hubs reading `key`."""
    with app.app_context():
        return sum(client["name"] == f"sse-hub:{key}" for client in get_redis().client_list())


def wait_for(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.real_session
def test_a_disconnected_client_stops_its_stream(app, api, connect, room, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "SSE_KEEPALIVE_SECONDS", 0.1)
    caplog.set_level(logging.DEBUG, logger="mylivelinks.events.sse")
    client = connect(f"/rooms/{room}/events", api.auth(api.register()))
    client.start_id()
    assert client.block() == {":": "keep-alive"}
    assert hub_connections(app, room_stream_key(room)) == 1

    client.close()
    assert wait_for(lambda: any("closed after" in r.getMessage() for r in caplog.records))
    # With its last stream gone, the room's hub stops reading and hangs up.
    assert wait_for(lambda: hub_connections(app, room_stream_key(room)) == 0)


@pytest.mark.real_session
def test_a_hub_wakes_its_streams_as_often_as_the_most_frequent_keep_alive_needs(
    app, api, connect, room, monkeypatch
):
    # Streams wait for their hub's wake-ups, not on timers of their own.
    headers = api.auth(api.register())
    monkeypatch.setitem(app.config, "SSE_KEEPALIVE_SECONDS", 30)
    patient = connect(f"/rooms/{room}/events", headers)
    patient.start_id()
    assert wait_for(lambda: hub_connections(app, room_stream_key(room)) == 1)
    monkeypatch.setitem(app.config, "SSE_KEEPALIVE_SECONDS", 0.2)
    eager = connect(f"/rooms/{room}/events", headers)
    eager.start_id()
    # The first one comes at the end of the hub's current wait (up to HUB_BLOCK_SECONDS, 2 s),
    # the next ones as often as this stream needs, where the hub's own 2 s would space them.
    assert eager.block() == {":": "keep-alive"}
    started = time.monotonic()
    for _ in range(3):
        assert eager.block() == {":": "keep-alive"}
    assert time.monotonic() - started < 2
    event_id = publish(app, room, streams.VIEWER_LEFT, {"user": "ann"})
    assert patient.event()["id"] == event_id  # no keep-alive before it: 30 s is not due


@pytest.mark.real_session
def test_streams_of_one_key_share_one_redis_connection(app, api, connect, monkeypatch):
    monkeypatch.setitem(app.config, "SSE_KEEPALIVE_SECONDS", 0.1)
    session = api.register()
    key = user_stream_key(session["user"]["id"])
    # More than the app's shared Redis pool (100) holds.
    opened = [connect("/me/events", access_token=session["access_token"]) for _ in range(120)]
    for client in opened:
        client.start_id()
    with app.app_context():
        event_id = publish_user_event(session["user"]["id"], streams.NOTIFICATION, {"n": 1})
    assert {client.event()["id"] for client in opened} == {event_id}
    assert hub_connections(app, key) == 1

    for client in opened:
        client.close()
    assert wait_for(lambda: hub_connections(app, key) == 0)


@pytest.mark.real_session
def test_a_client_further_behind_than_the_hub_holds_catches_up_from_redis(
    app, api, connect, room, monkeypatch
):
    monkeypatch.setattr(sse, "HUB_RECENT", 2)
    headers = api.auth(api.register())
    path = f"/rooms/{room}/events"
    listening = connect(path, headers)  # keeps the room's hub reading
    start = listening.start_id()
    ids = [publish(app, room, streams.CHAT_MESSAGE, {"n": n}) for n in range(6)]
    assert [listening.event()["id"] for _ in ids] == ids

    late = connect(path, {**headers, "Last-Event-ID": start})
    late.start_id()
    assert [late.event()["id"] for _ in ids] == ids
    newest = publish(app, room, streams.CHAT_MESSAGE, {"n": 6})
    assert late.event()["id"] == newest


@pytest.mark.real_session
def test_an_idle_stream_outlives_the_redis_clients_default_socket_timeout(
    app, api, connect, room, monkeypatch
):
    monkeypatch.setitem(app.config, "SSE_KEEPALIVE_SECONDS", 8)
    client = connect(f"/rooms/{room}/events", api.auth(api.register()))
    client.start_id()
    time.sleep(5.5)  # redis-py gives up reading after 5 s unless told otherwise
    event_id = publish(app, room, streams.STREAM_ENDED, {"stream": 1})
    assert client.event()["id"] == event_id


@pytest.mark.real_session
def test_streams_end_when_their_hub_fails_and_reconnecting_recovers(
    app, api, connect, room, monkeypatch
):
    def redis_down(*args, **kwargs):
        raise RedisConnectionError("Redis is down")

    headers = api.auth(api.register())
    path = f"/rooms/{room}/events"
    with monkeypatch.context() as patch:
        patch.setattr(sse, "read_events", redis_down)
        broken = connect(path, headers)
        start = broken.start_id()
        assert broken.block() is None  # the server ended the response

    missed = publish(app, room, streams.BOX_PUBLISHED, {"position": 2})
    again = connect(path, {**headers, "Last-Event-ID": start})
    again.start_id()
    assert again.event()["id"] == missed


@pytest.mark.real_session
def test_a_real_client_receives_the_gift_and_its_chat_line(app, api, connect, room):
    from mylivelinks.models import Box
    from tests.money import grant, send_gift

    with app.app_context():
        stage = db.session.scalar(select(Room).where(Room.slug == room))
        db.session.add_all(Box(room_id=stage.id, position=n) for n in range(1, 13))
        db.session.commit()
        db.session.remove()
    seed_reference_data_committed(app)
    streamer, fan = api.register(), api.register()
    assert (
        api.post(f"/api/v1/rooms/{room}/live", json={}, headers=api.auth(streamer)).status_code
        == 201
    )
    grant(app, fan, 3)
    client = connect(f"/rooms/{room}/events", api.bearer(fan["access_token"]))
    client.start_id()
    assert send_gift(api, fan, "Rose", 3, room=room, position=1).status_code == 201
    said = api.post(f"/api/v1/rooms/{room}/chat", json={"body": "gg"}, headers=api.auth(fan))
    assert said.status_code == 201

    received = [client.event() for _ in range(3)]
    assert [e["event"] for e in received] == ["chat:message", "gift:sent", "chat:message"]
    assert received[1]["data"]["quantity"] == 3 and received[1]["data"]["combo"] == 1
    assert received[2]["data"]["body"] == "gg"


def seed_reference_data_committed(app) -> None:
    from mylivelinks.seed import seed_reference_data

    with app.app_context():
        list(seed_reference_data())
        db.session.commit()
        db.session.remove()
