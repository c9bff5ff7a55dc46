"""Event streams on the real server: gunicorn's gevent worker, as `make run` starts it.

Each test starts `gunicorn wsgi:app` with its own settings on the session's databases and
talks to it over sockets only; what the server commits is real (tables truncated after).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from mylivelinks import create_app
from mylivelinks.dev import raise_open_files_limit
from mylivelinks.events.streams import GIFT_SENT, publish_room_event
from mylivelinks.jobs.publishing import sweep_rooms
from tests.conftest import TEST_SECRET_KEY, make_config
from tests.event_server import EventServer, EventStream, started, wait_for
from tests.fakes.media import MediaHarness, build_harness
from tests.media_checks import publish_actions
from tests.money import grant, run_jobs

pytestmark = pytest.mark.real_session

ROOM = "/api/v1/rooms/main"
STREAMS = 2000
# The 2,000 streams' sockets on each side, plus the server's files and requests.
OPEN_FILES = STREAMS + 2048

ServerFactory = Callable[..., EventServer]


@pytest.fixture(scope="module", autouse=True)
def _open_files() -> None:
    """Room for thousands of sockets here and in the servers, which inherit the limit."""
    limit = raise_open_files_limit(OPEN_FILES)
    assert limit >= OPEN_FILES, f"open files limited to {limit} (ulimit -Hn)"


@pytest.fixture
def serve(server_urls, app, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start a server with the given settings (on the migrated database); all stopped after."""
    servers: list[EventServer] = []

    def start(**settings) -> EventServer:
        log_path = tmp_path / f"gunicorn-{len(servers)}.log"
        server = EventServer(server_urls, log_path, **settings)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def _go_live(server: EventServer, streamer: dict) -> None:
    reply = server.request("POST", f"{ROOM}/live", {}, streamer["access_token"])
    assert reply.status == 201, reply.body


def _open(server: EventServer, count: int, token: str, **options) -> list[EventStream]:
    streams = [server.open_stream("main", token, **options) for _ in range(count)]
    late = wait_for(streams, started, timeout=10 + count / 100)
    assert not late, f"{len(late)} streams got no first block; log:\n{server.log()}"
    return streams


def _admitted_after(server: EventServer, token: str, timeout: float) -> EventStream:
    """A stream admitted within `timeout` s, asking again (as Retry-After says) meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        stream = server.open_stream("main", token)
        assert not wait_for([stream], started, timeout=5)
        if stream.status == 200:
            return stream
        stream.close()
        assert stream.status == 503
        assert time.monotonic() < deadline, "no stream admitted again"
        time.sleep(0.2)


def test_past_the_listener_limit_a_stream_gets_503_until_one_closes(serve, main_room):
    server = serve(SSE_MAX_LISTENERS=3, SSE_KEEPALIVE_SECONDS=0.3)
    viewer = server.register()
    token = viewer["access_token"]
    streams = _open(server, 3, token)
    assert [stream.status for stream in streams] == [200, 200, 200]

    refused = server.open_stream("main", token)
    assert not wait_for([refused], started, timeout=5)
    assert refused.status == 503
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"].startswith("application/json")
    envelope = refused.json()
    assert envelope["code"] == 503
    assert envelope["status"] == "Service Unavailable"
    assert envelope["message"]
    refused.close()
    assert server.request("GET", "/healthz").status == 200  # other requests still served

    streams.pop().close()  # found gone at its next keep-alive
    again = _admitted_after(server, token, timeout=5)
    assert again.blocks[0].fields["retry"]
    for stream in [*streams, again]:
        stream.close()


def test_two_thousand_streams_on_one_worker_leave_requests_fast(serve, app, main_room):
    server = serve(SSE_MAX_LISTENERS=STREAMS + 100)
    streamer, sender, viewer = server.register(), server.register(), server.register()
    grant(app, sender, 100)
    _go_live(server, streamer)

    opened_at = time.monotonic()
    streams = _open(server, STREAMS, viewer["access_token"])
    opening = time.monotonic() - opened_at
    assert all(stream.status == 200 for stream in streams)
    assert all(stream.blocks[0].fields["id"] for stream in streams)

    for _ in range(5):
        asked = time.monotonic()
        assert server.request("GET", "/healthz", timeout=5).status == 200
        assert time.monotonic() - asked < 1.0
    rose = next(
        g for g in server.request("GET", "/api/v1/gifts").body["items"] if g["name"] == "Rose"
    )
    gift = {"gift_type_id": rose["id"], "quantity": 1, "room": "main", "position": 1}
    asked = time.monotonic()
    reply = server.request("POST", "/api/v1/gifts", gift, sender["access_token"])
    assert reply.status == 201, reply.body
    assert time.monotonic() - asked < 2.0

    def has_gift(stream: EventStream) -> bool:
        return any(block.fields["event"] == GIFT_SENT for block in stream.events)

    late = wait_for(streams, has_gift, timeout=20)
    delivered = time.monotonic() - asked
    assert not late, f"{len(late)} of {STREAMS} streams did not receive the gift"
    print(f"{STREAMS} streams opened in {opening:.1f} s; the gift reached all in {delivered:.1f} s")
    for stream in streams:
        stream.close()


def _publish(app, first: int, count: int) -> list[str]:
    with app.app_context():
        return [
            publish_room_event("main", "test:tick", {"n": n}) for n in range(first, first + count)
        ]


def _numbers(stream: EventStream) -> list[int]:
    return [json.loads(block.fields["data"])["n"] for block in stream.events]


def test_last_event_id_resumes_exactly_the_missed_events_across_a_restart(serve, app, main_room):
    settings = {"SSE_KEEPALIVE_SECONDS": 0.3}
    server = serve(**settings)
    token = server.register()["access_token"]
    _publish(app, -2, 2)  # before the stream: never delivered
    (stream,) = _open(server, 1, token)
    seen = _publish(app, 0, 3)
    assert not wait_for([stream], lambda s: len(s.events) >= 3, timeout=5)
    assert stream.ids == seen
    server.stop(signal.SIGKILL)
    wait_for([stream], lambda s: s.closed, timeout=5)
    assert stream.closed

    missed = _publish(app, 3, 5)  # while no server runs
    restarted = serve(**settings)
    resumed = restarted.open_stream("main", token, last_event_id=stream.ids[-1])
    assert not wait_for([resumed], lambda s: len(s.events) >= 5, timeout=10)
    assert resumed.blocks[0].fields["id"] == seen[-1]
    newer = _publish(app, 8, 1)
    assert not wait_for([resumed], lambda s: len(s.events) >= 6, timeout=5)
    wait_for([resumed], lambda s: False, timeout=1)  # keep-alives only, nothing replayed
    assert resumed.ids == missed + newer
    assert _numbers(resumed) == list(range(3, 9))
    assert any(block.comment == "keep-alive" for block in resumed.blocks)
    resumed.close()


VIEWER_TIMEOUT = 3


@pytest.fixture
def sweeper(server_urls, app) -> Flask:
    """An app with the servers' viewer timeout, to run the sweep and the publish jobs."""
    return create_app(make_config(server_urls, VIEWER_TIMEOUT_SECONDS=str(VIEWER_TIMEOUT)))


def _box(server: EventServer, position: int = 1) -> dict:
    return server.request("GET", ROOM).body["boxes"][position - 1]


def test_an_open_room_stream_keeps_its_viewer_present_without_heartbeats(
    serve, sweeper, main_room, media_harness
):
    server = serve(
        VIEWER_TIMEOUT_SECONDS=VIEWER_TIMEOUT, SSE_PRESENCE_SECONDS=1, SSE_KEEPALIVE_SECONDS=0.3
    )
    streamer, viewer = server.register(), server.register()
    _go_live(server, streamer)
    opened = server.request("POST", f"{ROOM}/boxes/1/viewers", token=viewer["access_token"])
    assert opened.status == 200, opened.body
    run_jobs(sweeper)
    assert _box(server)["is_published"] is True

    (stream,) = _open(server, 1, viewer["access_token"])
    wait_for([stream], lambda s: False, timeout=VIEWER_TIMEOUT + 1.5)  # no heartbeat call
    with sweeper.app_context():
        assert sweep_rooms()["stale_viewers"] == 0
    run_jobs(sweeper)
    box = _box(server)
    assert (box["viewer_count"], box["is_published"]) == (1, True)

    stream.close()
    time.sleep(VIEWER_TIMEOUT + 1.5)
    with sweeper.app_context():
        assert sweep_rooms()["stale_viewers"] == 1
    run_jobs(sweeper)
    box = _box(server)
    assert (box["viewer_count"], box["is_published"]) == (0, False)
    streamer_id = streamer["user"]["id"]
    assert publish_actions(sweeper, media_harness, streamer_id) == ["allow", "revoke"]


SEND_TIMEOUT = 2
FAST_LISTENERS = 10
# About 6 MB in all: more than the stuck client's socket buffers on both ends hold (Linux
# grows a loopback send buffer to about 3 MB while the receiver takes nothing).
LARGE_EVENTS, LARGE_EVENT_BYTES = 48, 128 * 1024


def test_a_client_that_never_reads_is_dropped_without_slowing_the_others(serve, app, main_room):
    server = serve(
        SSE_MAX_LISTENERS=FAST_LISTENERS + 1,
        SSE_SEND_TIMEOUT_SECONDS=SEND_TIMEOUT,
        SSE_KEEPALIVE_SECONDS=0.5,
    )
    token = server.register()["access_token"]
    (stuck,) = _open(server, 1, token, rcvbuf=4096)  # reads its first block, then never
    fast = _open(server, FAST_LISTENERS, token)
    full = server.open_stream("main", token)
    assert not wait_for([full], started, timeout=5)
    assert full.status == 503

    published_at: dict[int, float] = {}

    def publish() -> None:
        with app.app_context():
            for n in range(LARGE_EVENTS):
                published_at[n] = time.monotonic()
                publish_room_event("main", "test:large", {"n": n, "pad": "x" * LARGE_EVENT_BYTES})
                time.sleep(0.04)

    publisher = threading.Thread(target=publish)
    publisher.start()
    late = wait_for(fast, lambda s: len(s.events) >= LARGE_EVENTS, timeout=20)
    publisher.join()
    assert not late, f"{len(late)} readers did not get every event; log:\n{server.log()}"
    delays = sorted(
        block.received_at - published_at[json.loads(block.fields["data"])["n"]]
        for stream in fast
        for block in stream.events
    )
    p95 = delays[int(len(delays) * 0.95)]
    print(f"delivery to {len(fast)} readers: p95 {p95:.3f} s, max {delays[-1]:.3f} s")
    assert p95 < 1.0

    # The server gives up the stuck stream's write: its slot is free again.
    again = _admitted_after(server, token, timeout=SEND_TIMEOUT + 5)
    wait_for([stuck], lambda s: False, timeout=5)  # now read what it was sent, to the end
    assert stuck.closed
    assert len(stuck.events) < LARGE_EVENTS
    for stream in [*fast, again]:
        stream.close()


@pytest.fixture
def livekit(server_urls) -> Iterator[MediaHarness]:
    """The fake LiveKit server, for a server configured against it."""
    harness = build_harness("livekit", server_urls["REDIS_URL"], TEST_SECRET_KEY)
    harness.start()
    yield harness
    harness.stop()


def test_the_livekit_adapter_and_its_asyncio_loop_work_under_gevent(serve, main_room, livekit):
    server = serve(**livekit.settings())
    streamer, viewer = server.register(), server.register()
    _go_live(server, streamer)  # creates the vendor room through LiveKit's RoomService
    opened = server.request("POST", f"{ROOM}/boxes/1/viewers", token=viewer["access_token"])
    assert opened.status == 200, opened.body
    assert opened.body["credentials"]["provider"] == "livekit"
    assert [(call["action"], call["room"]) for call in livekit.calls()] == [("open_room", "main")]
    # A second vendor call from another request, on the adapter's loop started by the first.
    other = server.register()
    reply = server.request("POST", "/api/v1/rooms/main/live", {}, other["access_token"])
    assert reply.status == 201, reply.body
    assert [call["action"] for call in livekit.calls()] == ["open_room", "open_room"]
