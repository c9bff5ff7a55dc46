"""The `livekit` adapter against a fake LiveKit server that checks auth like LiveKit does."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from livekit import api

from mylivelinks import create_app
from mylivelinks.providers import livekit as livekit_module
from mylivelinks.providers import media_provider
from mylivelinks.providers.base import (
    ProviderRejected,
    ProviderUnavailable,
    PublishChange,
    WebhookVerificationFailed,
)
from mylivelinks.providers.livekit import LiveKitProvider
from tests.conftest import make_config
from tests.fakes.livekit_server import FakeLiveKit, LiveKitHarness
from tests.media_checks import VENDOR_FAILURES

TIMEOUT = 0.5


@pytest.fixture(scope="module")
def harness() -> Iterator[LiveKitHarness]:
    livekit = LiveKitHarness()
    livekit.start()
    yield livekit
    livekit.stop()


@pytest.fixture
def livekit(harness) -> LiveKitHarness:
    harness.reset()
    return harness


def build(harness: LiveKitHarness, **overrides) -> LiveKitProvider:
    settings = harness.settings()
    options = {
        "url": settings["LIVEKIT_URL"],
        "api_url": settings["LIVEKIT_API_URL"],
        "api_key": settings["LIVEKIT_API_KEY"],
        "api_secret": settings["LIVEKIT_API_SECRET"],
        "timeout": TIMEOUT,
        **overrides,
    }
    return LiveKitProvider(**options)


@pytest.fixture
def provider(livekit) -> Iterator[LiveKitProvider]:
    adapter = build(livekit)
    yield adapter
    adapter.close()


def loop_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "livekit-api")


# --- credentials ---------------------------------------------------------------------------


def test_credentials_carry_room_identity_role_and_expiry(provider, livekit):
    started = datetime.now(UTC).replace(microsecond=0)
    publisher = provider.credentials("main", "alice", "publisher", timedelta(minutes=10))
    viewer = provider.credentials("main", "bob", "subscriber", timedelta(minutes=2))

    assert livekit.decode(publisher) == {
        "room": "main",
        "identity": "alice",
        "can_publish": True,
        "can_subscribe": True,
        "can_publish_data": True,
        "expires_at": publisher.expires_at,
    }
    seen = livekit.decode(viewer)
    assert (seen["room"], seen["identity"], seen["can_publish"]) == ("main", "bob", False)
    # Explicitly False in the token: LiveKit's default for a missing canPublish is True.
    assert (
        jwt.decode(viewer.token, options={"verify_signature": False})["video"]["canPublish"]
        is False
    )
    assert timedelta(minutes=2) <= viewer.expires_at - started <= timedelta(minutes=2, seconds=1)
    assert viewer.expires_at.tzinfo is UTC
    assert (publisher.provider, publisher.url, publisher.role) == (
        "livekit",
        livekit.fake.ws_url,
        "publisher",
    )
    assert livekit.calls() == []  # minting tokens needs no server


# --- RoomService ---------------------------------------------------------------------------


def test_set_publishing_always_sends_a_complete_permission(provider, livekit):
    livekit.connect("main", "alice")
    provider.set_publishing("main", "alice", True)
    provider.set_publishing("main", "alice", False)
    provider.set_publishing("main", "alice", False)

    assert livekit.calls() == [
        {"action": "allow", "room": "main", "identity": "alice"},
        {"action": "revoke", "room": "main", "identity": "alice"},
        {"action": "revoke", "room": "main", "identity": "alice"},
    ]
    sent = [entry["permission"] for entry in livekit.permissions()]
    assert [p["can_publish"] for p in sent] == [True, False, False]
    assert all(p["can_subscribe"] and p["can_publish_data"] for p in sent)
    state = livekit.fake.participants[("main", "alice")].permission
    assert (state.can_publish, state.can_subscribe) == (False, True)


def test_a_participant_not_connected_yet_is_pending(provider, livekit, caplog):
    livekit.absent("bob")
    with caplog.at_level(logging.INFO, logger="mylivelinks.providers.livekit"):
        assert provider.set_publishing("main", "bob", True) == PublishChange.PENDING
    assert [entry["status"] for entry in livekit.permissions()] == [404]
    # LiveKit received and answered it: the vendor's record shows the allow.
    assert livekit.calls() == [{"action": "allow", "room": "main", "identity": "bob"}]
    assert any("not in room" in record.getMessage() for record in caplog.records)


def test_rooms_are_opened_idempotently_and_closed(provider, livekit):
    provider.open_room("main")
    sid = livekit.fake.rooms["main"].sid
    provider.open_room("main")
    assert livekit.fake.rooms["main"].sid == sid
    provider.close_room("main")
    provider.close_room("main")  # already gone (LiveKit answers not_found): still closed
    assert livekit.fake.rooms == {}
    actions = [c["action"] for c in livekit.calls()]
    assert actions == ["open_room", "open_room", "close_room", "close_room"]
    assert [c["status"] for c in livekit.fake.calls()] == [200, 200, 200, 404]


@pytest.mark.parametrize(
    "overrides",
    [{"api_secret": "another-secret-that-is-long-enough-000000"}, {"api_key": "APIunknown"}],
)
def test_the_server_refuses_bad_credentials(livekit, overrides):
    adapter = build(livekit, **overrides)
    try:
        with pytest.raises(ProviderRejected, match="unauthenticated"):
            adapter.open_room("main")
        with pytest.raises(ProviderRejected):
            adapter.set_publishing("main", "alice", False)
    finally:
        adapter.close()
    assert [c["status"] for c in livekit.fake.calls()] == [401, 401]
    assert livekit.calls() == []


def test_the_fake_checks_grants_like_livekit(livekit):
    def post(method: str, body: dict, token: str | None) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{livekit.fake.base_url}/twirp/livekit.RoomService/{method}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def token(**grants) -> str:
        minted = api.AccessToken(livekit.api_key, livekit.api_secret)
        return minted.with_grants(api.VideoGrants(**grants)).to_jwt()

    assert post("CreateRoom", {"name": "main"}, None)[1]["code"] == "unauthenticated"
    assert post("CreateRoom", {"name": "main"}, token(room_admin=True, room="main")) == (
        403,
        {"code": "permission_denied", "msg": "permissions denied"},
    )
    update = {"room": "main", "identity": "a", "permission": {"canPublish": True}}
    assert post("UpdateParticipant", update, token(room_admin=True, room="other"))[0] == 403
    status, room = post("CreateRoom", {"name": "main"}, token(room_create=True))
    assert (status, room["name"]) == (200, "main")
    # LiveKit updates only a connected participant.
    assert post("UpdateParticipant", update, token(room_admin=True, room="main")) == (
        404,
        {"code": "not_found", "msg": "participant does not exist"},
    )
    livekit.connect("main", "a", publishing=False)
    status, participant = post("UpdateParticipant", update, token(room_admin=True, room="main"))
    assert (status, participant["identity"], participant["permission"]) == (
        200,
        "a",
        {"canPublish": True},
    )


@pytest.mark.parametrize(("status", "error"), [*VENDOR_FAILURES, (404, ProviderRejected)])
def test_vendor_errors_become_neutral_errors(provider, livekit, status, error):
    livekit.fail_next(1, status)
    with pytest.raises(error):
        provider.open_room("main")
    provider.open_room("main")  # the next call goes through
    assert livekit.calls() == [{"action": "open_room", "room": "main", "identity": None}]


def test_an_unreachable_server_is_unavailable(livekit):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = build(livekit, url=f"ws://127.0.0.1:{port}", api_url=None)
    try:
        with pytest.raises(ProviderUnavailable):
            adapter.close_room("main")
    finally:
        adapter.close()


def test_a_slow_answer_is_unavailable_within_the_timeout(provider, livekit):
    provider.open_room("warm-up")
    livekit.answer_slowly(3)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="no answer"):
        provider.set_publishing("main", "alice", False)
    assert time.monotonic() - started < TIMEOUT + 0.5
    livekit.answer_slowly(0)
    provider.set_publishing("main", "alice", False)  # the loop and client survive


def test_many_threads_share_one_loop(provider, livekit):
    before = loop_threads()

    def work(index: int) -> None:
        for step in range(5):
            provider.set_publishing("main", f"user{index}", step % 2 == 0)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(work, range(16)))
    assert len(livekit.calls()) == 80
    assert loop_threads() == before + 1


def test_close_is_safe_twice_and_before_use(livekit):
    unused = build(livekit)
    unused.close()
    unused.close()

    adapter = build(livekit)
    adapter.open_room("main")
    thread = adapter._thread
    adapter.close()
    adapter.close()
    assert thread is not None and not thread.is_alive()
    adapter.open_room("main")  # a later call starts a fresh loop
    adapter.close()


def test_a_new_process_gets_a_new_loop(provider, livekit):
    provider.open_room("main")
    old_loop, old_thread, old_client = provider._loop, provider._thread, provider._client
    # As in a forked child that missed the at-fork hook: the loop's thread is gone, the pid
    # differs.
    old_loop.call_soon_threadsafe(old_loop.stop)
    old_thread.join(5)
    provider._pid = -1
    provider.set_publishing("main", "alice", True)
    assert provider._loop is not old_loop and provider._pid == os.getpid()
    # The inherited loop is set aside untouched (its sockets would be the parent's).
    [entry] = [entry for entry in livekit_module._INHERITED if entry[0] is old_loop]
    assert [c["action"] for c in livekit.calls()] == ["open_room", "allow"]
    livekit_module._INHERITED.remove(entry)  # only a simulation: release it
    old_loop.run_until_complete(old_client.aclose())
    old_loop.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_calls_livekit_on_its_own_loop(provider, livekit):
    provider.open_room("parent")
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            provider.open_room("child")
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 10
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    provider.open_room("parent")  # the parent's loop is untouched
    assert sorted(livekit.fake.rooms) == ["child", "parent"]


# --- webhooks ------------------------------------------------------------------------------

URL = "https://api.example.com/api/v1/media/webhooks/livekit"


@pytest.mark.parametrize(
    ("kind", "identity"),
    [
        ("participant_joined", "alice"),
        ("participant_left", "alice"),
        ("track_published", "alice"),
        ("track_unpublished", "alice"),
        ("room_finished", None),
    ],
)
def test_a_valid_webhook_is_normalised(provider, livekit, kind, identity):
    body, headers = livekit.webhook(kind, "main", identity, url=URL, event_id="EV_1")
    [event] = provider.verify_webhook(body, headers, URL)
    assert (event.provider, event.event_id, event.kind, event.room, event.identity) == (
        "livekit",
        "EV_1",
        kind,
        "main",
        identity,
    )
    assert abs(event.occurred_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert event.payload["event"] == kind and event.payload["room"]["name"] == "main"


def test_other_events_are_ignored_and_headers_are_case_insensitive(provider, livekit):
    body, headers = livekit.webhook("egress_started", "main", None, url=URL)
    assert provider.verify_webhook(body, headers, URL) == []
    body, headers = livekit.webhook("participant_joined", "main", "bob", url=URL)
    lower = {name.lower(): value for name, value in headers.items()}
    assert [e.identity for e in provider.verify_webhook(body, lower, URL)] == ["bob"]


@pytest.mark.parametrize("flaw", ["tamper", "wrong_secret", "stale"])
def test_a_forged_webhook_is_refused(provider, livekit, flaw):
    body, headers = livekit.webhook("participant_left", "main", "alice", url=URL, **{flaw: True})
    with pytest.raises(WebhookVerificationFailed):
        provider.verify_webhook(body, headers, URL)


def test_a_webhook_without_authorization_or_utf8_is_refused(provider, livekit):
    body, headers = livekit.webhook("participant_left", "main", "alice", url=URL)
    with pytest.raises(WebhookVerificationFailed):
        provider.verify_webhook(body, {"Content-Type": "application/webhook+json"}, URL)
    with pytest.raises(WebhookVerificationFailed):
        provider.verify_webhook(b"\xff" + body, headers, URL)


# --- configuration -------------------------------------------------------------------------


def test_the_app_builds_it_from_settings_and_derives_the_api_url(server_urls, livekit):
    settings = {k: v for k, v in livekit.settings().items() if k != "LIVEKIT_API_URL"}
    app = create_app(make_config(server_urls, **settings))
    with app.app_context():
        adapter = media_provider()
        try:
            assert isinstance(adapter, LiveKitProvider)
            adapter.open_room("main")  # ws://host:port → http://host:port
            ttl = timedelta(minutes=1)
            assert adapter.credentials("main", "a", "publisher", ttl).url == livekit.fake.ws_url
        finally:
            adapter.close()
    assert livekit.calls() == [{"action": "open_room", "room": "main", "identity": None}]


def test_an_unconfigured_adapter_refuses_instead_of_crashing():
    adapter = LiveKitProvider(url=None, api_key=None, api_secret=None)
    with pytest.raises(ProviderRejected, match="not configured"):
        adapter.open_room("main")
    with pytest.raises(WebhookVerificationFailed):
        adapter.verify_webhook(b"{}", {"Authorization": "x"}, URL)
    adapter.close()


def test_the_fake_serves_its_own_context(livekit):
    with FakeLiveKit("k", "s" * 32) as fake:
        assert fake.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        fake.base_url  # noqa: B018


def test_presence_is_the_vendors_view_and_a_duplicate_identity_replaces(provider, livekit):
    assert provider.participant_present("main", "carol") is False
    livekit.connect("main", "carol")
    first = livekit.fake.participants[("main", "carol")].sid
    livekit.connect("main", "carol")  # the same identity again: LiveKit replaces the session
    assert livekit.fake.participants[("main", "carol")].sid != first
    assert provider.participant_present("main", "carol") is True
    livekit.disconnect("main", "carol")
    assert provider.participant_present("main", "carol") is False


def test_publishers_is_livekit_s_list_of_participants_and_permissions(provider, livekit):
    assert provider.publishers("nowhere") == {}  # LiveKit: no such room
    livekit.connect("main", "ann", publishing=True)
    livekit.connect("main", "ben", publishing=False)
    assert provider.publishers("main") == {"ann": True, "ben": False}
    assert provider.set_publishing("main", "ann", False) == PublishChange.APPLIED
    assert provider.publishers("main") == {"ann": False, "ben": False}


def test_rooms_are_opened_with_timeouts_a_slow_streamer_survives(provider, livekit):
    provider.open_room("main")
    room = livekit.fake.rooms["main"]
    assert (room.empty_timeout, room.departure_timeout) == (600, 60)
    livekit.fake.elapse(400)
    assert "main" in livekit.fake.rooms  # LiveKit's own 300 s would have closed it
    livekit.connect("main", "slow")
    livekit.fake.elapse(3600)
    assert "main" in livekit.fake.rooms  # occupied
    livekit.disconnect("main", "slow")
    livekit.fake.elapse(30)
    assert "main" in livekit.fake.rooms  # back within the departure timeout
    livekit.fake.elapse(31)
    assert "main" not in livekit.fake.rooms


def test_the_fake_closes_empty_rooms_after_livekit_s_default_timeouts(livekit):
    livekit.connect("auto", "someone")  # auto-created by joining: LiveKit's defaults
    livekit.disconnect("auto", "someone")
    livekit.fake.elapse(21)
    assert "auto" not in livekit.fake.rooms
