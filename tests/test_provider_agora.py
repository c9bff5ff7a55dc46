"""The Agora adapter against FakeAgora: tokens, banning rules, errors and NCS webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from mylivelinks import create_app
from mylivelinks.providers import media_provider
from mylivelinks.providers.agora import AgoraProvider, agora_uid
from mylivelinks.providers.base import (
    ProviderRejected,
    ProviderUnavailable,
    WebhookNotConfigured,
    WebhookVerificationFailed,
)
from tests.conftest import make_config
from tests.fakes.agora_harness import AgoraHarness, parse_token
from tests.fakes.agora_server import uid_of

HOOK_URL = "https://api.example.test/api/v1/webhooks/media/agora"


@pytest.fixture(scope="module")
def harness():
    harness = AgoraHarness()
    harness.start()
    yield harness
    harness.stop()


def make_provider(app, harness: AgoraHarness, **overrides) -> AgoraProvider:
    options = {
        "app_id": harness.app_id,
        "app_certificate": harness.app_certificate,
        "customer_id": harness.customer_id,
        "customer_secret": harness.customer_secret,
        "api_url": harness.server.base_url,
        "webhook_secret": harness.webhook_secret,
        "redis": app.extensions["redis"],
        "timeout": 2,
        **overrides,
    }
    return AgoraProvider(**options)


@pytest.fixture
def agora(app, harness):
    harness.reset()
    with app.app_context():
        provider = make_provider(app, harness)
        yield provider
        provider.close()


def test_tokens_carry_channel_uid_role_and_an_absolute_expiry(agora, harness, monkeypatch):
    # Only with co-host authentication does Agora check the token's role.
    monkeypatch.setattr(harness.server, "cohost_authentication", True)
    before = int(time.time())
    publisher = agora.credentials("main", "alice", "publisher", timedelta(minutes=10))
    viewer = agora.credentials("main", "bob", "subscriber", timedelta(minutes=2))
    assert harness.decode(publisher) == {
        "room": "main",
        "identity": "alice",
        "can_publish": True,
        "can_subscribe": True,
        "expires_at": publisher.expires_at,
    }
    assert harness.decode(viewer)["can_publish"] is False
    assert harness.decode(viewer)["can_subscribe"] is True
    assert (publisher.provider, publisher.role, publisher.identity) == (
        "agora",
        "publisher",
        "alice",
    )
    assert publisher.url == f"agora:{harness.app_id}?uid={uid_of('alice')}"
    fields = parse_token(publisher.token)
    assert fields["app_id"] == harness.app_id
    assert set(fields["privileges"]) == {1, 2, 3, 4}
    assert set(parse_token(viewer.token)["privileges"]) == {1}
    expiry = fields["privileges"][1]
    assert before + 600 <= expiry <= int(time.time()) + 600  # absolute unix time, not a ttl
    assert publisher.expires_at == datetime.fromtimestamp(expiry, UTC)


def test_a_token_only_verifies_for_its_own_channel_and_certificate(agora, harness):
    credentials = agora.credentials("main", "alice", "publisher", timedelta(minutes=5))
    other = AgoraHarness()  # another certificate and app id
    other.app_id = harness.app_id
    with pytest.raises(ValueError, match="signature"):
        other.decode(credentials)
    moved = type(credentials)(**{**credentials.__dict__, "room": "other"})
    with pytest.raises(ValueError, match="channel"):
        harness.decode(moved)


def test_token_lifetime_is_capped_at_the_token_format_limit(agora, harness):
    credentials = agora.credentials("main", "alice", "subscriber", timedelta(days=3))
    assert credentials.expires_at <= datetime.now(UTC) + timedelta(hours=24, seconds=1)
    assert harness.decode(credentials)["expires_at"] == credentials.expires_at


def test_uids_are_stable_non_zero_and_recorded_for_webhooks(agora, app):
    assert agora_uid("alice") == uid_of("alice") == agora_uid("alice")
    assert agora_uid("alice") != agora_uid("bob")
    assert all(0 < agora_uid(str(n)) < 2**32 for n in range(200))
    agora.credentials("main", "alice", "publisher", timedelta(minutes=1))
    stored = app.extensions["redis"].hget("media:agora:uids", str(uid_of("alice")))
    assert stored == b"alice"


def test_a_revoke_creates_one_publish_rule_and_an_allow_deletes_it(agora, harness):
    agora.set_publishing("main", "alice", False)
    agora.set_publishing("main", "alice", False)  # same state: nothing more at Agora
    assert harness.calls() == [{"action": "revoke", "room": "main", "identity": "alice"}]
    (rule,) = harness.server.rules.values()
    assert (rule["cname"], rule["uid"]) == ("main", uid_of("alice"))
    assert sorted(rule["privileges"]) == ["publish_audio", "publish_video"]
    assert 590 <= rule["expires"] - time.time() <= 600
    post = harness.server.calls[0]
    assert post["body"]["time_in_seconds"] == 600
    assert post["body"]["appid"] == harness.app_id

    agora.set_publishing("main", "alice", True)
    agora.set_publishing("main", "alice", True)  # no rule stored: nothing to do
    assert [c["action"] for c in harness.calls()] == ["revoke", "allow"]
    assert harness.server.rules == {}
    assert len(harness.server.calls) == 2


def test_an_allow_without_a_revoke_calls_nothing(agora, harness):
    agora.set_publishing("main", "carol", True)
    assert harness.server.calls == []


def test_closing_bans_joining_the_channel_and_opening_lifts_it(agora, harness):
    agora.open_room("main")  # implicit channels: nothing to do
    assert harness.server.calls == []
    agora.close_room("main")
    agora.close_room("main")
    assert harness.calls() == [{"action": "close_room", "room": "main", "identity": None}]
    (rule,) = harness.server.rules.values()
    assert (rule["cname"], rule["uid"], rule["privileges"]) == ("main", None, ["join_channel"])
    agora.open_room("main")
    assert [c["action"] for c in harness.calls()] == ["close_room", "open_room"]
    assert harness.server.rules == {}


def test_basic_auth_and_app_id_are_checked(app, harness):
    harness.reset()
    with app.app_context():
        wrong_secret = make_provider(app, harness, customer_secret="not-the-secret")
        with pytest.raises(ProviderRejected, match="401"):
            wrong_secret.set_publishing("main", "alice", False)
        wrong_app = make_provider(app, harness, app_id="0" * 32)
        with pytest.raises(ProviderRejected, match="403"):
            wrong_app.set_publishing("main", "alice", False)
    assert [c["status"] for c in harness.server.calls] == [401, 403]
    assert harness.server.rules == {}


def test_a_vendor_outage_is_unavailable_and_the_retry_succeeds(agora, harness):
    harness.fail_next(1, 503)
    with pytest.raises(ProviderUnavailable, match="503"):
        agora.set_publishing("main", "alice", False)
    agora.set_publishing("main", "alice", False)
    assert harness.calls() == [{"action": "revoke", "room": "main", "identity": "alice"}]
    assert len(harness.server.rules) == 1


def test_a_timed_out_revoke_is_found_again_instead_of_doubled(app, agora, harness):
    harness.server.answer_slowly(0.6)
    with pytest.raises(ProviderUnavailable, match="reached"):
        make_provider(app, harness, timeout=0.2).set_publishing("main", "alice", False)
    harness.server.answer_slowly(0)
    assert len(harness.server.rules) == 1  # Agora made it although we gave up waiting
    agora.set_publishing("main", "alice", False)  # looks the rule up: no second one
    assert [c["method"] for c in harness.server.calls] == ["POST", "GET"]
    assert len(harness.server.rules) == 1
    agora.set_publishing("main", "alice", True)
    assert harness.server.rules == {}


def test_an_allow_after_an_unsure_revoke_deletes_the_orphan_rule(app, agora, harness):
    harness.server.answer_slowly(0.6)
    with pytest.raises(ProviderUnavailable):
        make_provider(app, harness, timeout=0.2).set_publishing("main", "alice", False)
    harness.server.answer_slowly(0)
    agora.set_publishing("main", "alice", True)
    assert [c["action"] for c in harness.calls()] == ["revoke", "allow"]
    assert harness.server.rules == {}


def test_an_unreachable_api_is_unavailable(app, harness):
    with app.app_context():
        provider = make_provider(app, harness, api_url="http://127.0.0.1:9")
        with pytest.raises(ProviderUnavailable):
            provider.close_room("main")


@pytest.mark.parametrize(
    ("kind", "event_type"),
    [
        ("participant_joined", 103),
        ("participant_left", 104),
        ("audience_joined", 105),
        ("audience_left", 106),
        ("track_published", 111),
        ("track_unpublished", 112),
        ("room_finished", 102),
    ],
)
def test_a_signed_notification_becomes_one_event(agora, harness, kind, event_type):
    agora.credentials("main", "alice", "publisher", timedelta(minutes=1))
    identity = None if kind == "room_finished" else "alice"
    body, headers = harness.webhook(kind, "main", identity, url=HOOK_URL, event_id="n-1")
    lowered = {name.lower(): value for name, value in headers.items()}
    (event,) = agora.verify_webhook(body, lowered, HOOK_URL)
    normalised = {"audience_joined": "participant_joined", "audience_left": "participant_left"}
    assert (event.provider, event.event_id, event.kind, event.room, event.identity) == (
        "agora",
        "n-1",
        normalised.get(kind, kind),
        "main",
        identity,
    )
    assert event.payload["eventType"] == event_type
    assert event.can_publish is {103: True, 111: True, 102: None}.get(event_type, False)
    if identity is not None:
        assert event.sequence == event.payload["payload"]["clientSeq"]
    assert abs(event.occurred_at - datetime.now(UTC)) < timedelta(seconds=5)


def test_an_unknown_uid_has_no_identity_but_keeps_its_uid(agora, harness):
    body, headers = harness.webhook("participant_joined", "main", "zed", url=HOOK_URL)
    (event,) = agora.verify_webhook(body, headers, HOOK_URL)
    assert event.identity is None
    assert event.payload["payload"]["uid"] == uid_of("zed")


def test_notifications_the_service_does_not_use_are_ignored(agora, harness):
    body, headers = harness.webhook("participant_joined", "main", "alice", url=HOOK_URL)
    user_joined_rtm = body.replace(b'"eventType": 103', b'"eventType": 107')
    assert user_joined_rtm != body
    headers = {**headers, "Agora-Signature-V2": _sign(harness.webhook_secret, user_joined_rtm)}
    assert agora.verify_webhook(user_joined_rtm, headers, HOOK_URL) == []


def test_notifications_of_other_products_without_a_channel_are_ignored(agora, harness):
    recording = json.dumps(
        {
            "noticeId": "rec-1",
            "productId": 3,  # cloud recording
            "eventType": 31,
            "notifyMs": int(time.time() * 1000),
            "payload": {"cname": "main", "sid": "s1", "details": {}},
        }
    ).encode()
    headers = {"Agora-Signature-V2": _sign(harness.webhook_secret, recording)}
    assert agora.verify_webhook(recording, headers, HOOK_URL) == []


@pytest.mark.parametrize("fault", ["tamper", "wrong_secret", "stale"])
def test_a_notification_that_does_not_verify_is_refused(agora, harness, fault):
    body, headers = harness.webhook(
        "participant_left", "main", "alice", url=HOOK_URL, **{fault: True}
    )
    with pytest.raises(WebhookVerificationFailed):
        agora.verify_webhook(body, headers, HOOK_URL)


def test_a_notification_without_signature_or_secret_is_refused(app, agora, harness):
    body, headers = harness.webhook("participant_left", "main", "alice", url=HOOK_URL)
    with pytest.raises(WebhookVerificationFailed):
        agora.verify_webhook(body, {"Content-Type": "application/json"}, HOOK_URL)
    unset = make_provider(app, harness, webhook_secret=None)
    with pytest.raises(WebhookNotConfigured, match="AGORA_WEBHOOK_SECRET"):
        unset.verify_webhook(body, headers, HOOK_URL)


def test_the_harness_names_identities_it_never_met_by_uid(agora, harness):
    agora.set_publishing("main", "dave", False)
    (call,) = harness.calls()
    assert call == {"action": "revoke", "room": "main", "identity": "dave"}
    assert call["identity"] != "erin"


def test_the_app_builds_the_adapter_from_the_harness_settings(server_urls, app, harness):
    harness.reset()
    agora_app = create_app(make_config(server_urls, **harness.settings()))
    with agora_app.app_context():
        provider = media_provider()
        assert isinstance(provider, AgoraProvider)
        provider.set_publishing("main", "alice", False)
        credentials = provider.credentials("main", "alice", "publisher", timedelta(minutes=1))
    assert harness.calls() == [{"action": "revoke", "room": "main", "identity": "alice"}]
    assert harness.decode(credentials)["can_publish"] is True


def _sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_presence_is_agora_s_query_user_status(agora, harness):
    assert agora.participant_present("main", "erin") is False
    harness.connect("main", "erin", publishing=False)
    assert agora.participant_present("main", "erin") is True
    harness.disconnect("main", "erin")
    assert agora.participant_present("main", "erin") is False
    paths = [c["path"] for c in harness.server.calls]
    expected = f"/dev/v1/channel/user/property/{harness.app_id}/{uid_of('erin')}/main"
    assert paths == [expected] * 3


def test_without_cohost_authentication_a_viewer_token_can_publish(agora, harness):
    viewer = agora.credentials("main", "bob", "subscriber", timedelta(minutes=2))
    assert set(parse_token(viewer.token)["privileges"]) == {1}
    assert harness.decode(viewer)["can_publish"] is True  # Agora does not check it
    assert agora.capabilities.token_enforces_role is False
    assert agora.capabilities.server_side_publish_control is True


def test_with_cohost_authentication_the_token_is_the_switch_and_a_ban_the_backup(
    app, harness, monkeypatch
):
    monkeypatch.setattr(harness.server, "cohost_authentication", True)
    harness.reset()
    with app.app_context():
        provider = make_provider(app, harness, cohost_authentication=True)
        assert provider.capabilities.token_enforces_role is True
        assert provider.capabilities.server_side_publish_control is False
        viewer = provider.credentials("main", "bob", "subscriber", timedelta(minutes=2))
        assert harness.decode(viewer)["can_publish"] is False
        provider.set_publishing("main", "alice", False)  # a subscriber token: no vendor call
        assert harness.calls() == []
        harness.connect("main", "alice", publishing=False)
        assert provider.enforce_revoke("main", "alice") is False  # complied: audience
        harness.connect("main", "alice", publishing=True)
        assert provider.enforce_revoke("main", "alice") is True  # still a host: banned
        assert harness.calls() == [{"action": "revoke", "room": "main", "identity": "alice"}]
        provider.set_publishing("main", "alice", True)
        assert [c["action"] for c in harness.calls()] == ["revoke", "allow"]
        provider.close()


def _colliding_identities() -> tuple[str, str]:
    """Two identities whose first Agora uid is the same (32 bits: a birthday search)."""
    seen: dict[int, str] = {}
    for n in range(1_000_000):
        identity = f"user-{n}"
        uid = agora_uid(identity)
        if uid in seen:
            return seen[uid], identity
        seen[uid] = identity
    raise AssertionError("no collision found")


def test_a_uid_collision_gives_the_newcomer_another_uid(app, agora, harness):
    first, second = _colliding_identities()
    assert agora_uid(first) == agora_uid(second)
    mine = agora.credentials("main", first, "publisher", timedelta(minutes=1))
    theirs = agora.credentials("main", second, "subscriber", timedelta(minutes=1))
    assert mine.uid == agora_uid(first)
    assert theirs.uid != mine.uid and theirs.url.endswith(f"uid={theirs.uid}")
    assert harness.decode(theirs)["identity"] == second  # the token is signed for that uid
    # Both map back: a webhook about either names the right one.
    for identity, uid in ((first, mine.uid), (second, theirs.uid)):
        body, headers = harness.webhook("participant_left", "main", identity, url=HOOK_URL)
        assert json.loads(body)["payload"]["uid"] == uid
        (event,) = agora.verify_webhook(body, headers, HOOK_URL)
        assert event.identity == identity
    again = agora.credentials("main", second, "publisher", timedelta(minutes=1))
    assert again.uid == theirs.uid  # stable


def test_the_webhook_answers_503_without_a_secret_and_200_to_other_products(
    server_urls, app, harness
):
    settings = {k: v for k, v in harness.settings().items() if k != "AGORA_WEBHOOK_SECRET"}
    unset = create_app(make_config(server_urls, **settings)).test_client()
    body, headers = harness.webhook("participant_left", "main", "alice", url=HOOK_URL)
    reply = unset.post("/api/v1/webhooks/media/agora", data=body, headers=headers)
    assert reply.status_code == 503
    assert "AGORA_WEBHOOK_SECRET" in reply.get_json()["message"]
    configured = create_app(
        make_config(server_urls, **{k: str(v) for k, v in harness.settings().items()})
    ).test_client()
    recording = json.dumps(
        {"noticeId": "rec-2", "productId": 3, "eventType": 40, "payload": {"cname": "main"}}
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Agora-Signature-V2": _sign(harness.webhook_secret, recording),
    }
    reply = configured.post("/api/v1/webhooks/media/agora", data=recording, headers=headers)
    assert (reply.status_code, reply.get_json()) == (200, {"received": 0, "stored": 0})


def test_the_fake_answers_429_past_ten_rule_requests_a_second(app, harness):
    harness.reset()
    with app.app_context():
        unthrottled = make_provider(app, harness, rule_requests_per_second=1000)
        with pytest.raises(ProviderUnavailable, match="429"):
            for n in range(15):
                unthrottled.set_publishing("main", f"burst-{n}", False)
        unthrottled.close()
    assert 429 in [c["status"] for c in harness.server.calls]


def test_rule_requests_are_throttled_across_workers(app, harness):
    """Three adapters (as three workers would hold) share Agora's 10 requests a second."""
    harness.reset()
    started = time.monotonic()
    with app.app_context():
        workers = [make_provider(app, harness) for _ in range(3)]

        def revoke_many(worker: AgoraProvider, n: int) -> None:
            for k in range(8):
                worker.set_publishing("main", f"w{n}-{k}", False)

        with ThreadPoolExecutor(3) as pool:
            list(pool.map(revoke_many, workers, range(3)))
        for worker in workers:
            worker.close()
    statuses = [c["status"] for c in harness.server.calls]
    assert statuses == [200] * 24
    assert time.monotonic() - started >= 2.2  # 24 turns, a little over 0.1 s apart


def test_publishers_is_agora_s_user_list_with_cohost_authentication_only(app, agora, harness):
    assert agora.publishers("main") is None  # without it, a ban does not show in the roles
    with app.app_context():
        provider = make_provider(app, harness, cohost_authentication=True)
        assert provider.publishers("main") == {}
        provider.credentials("main", "host", "publisher", timedelta(minutes=1))
        provider.credentials("main", "fan", "subscriber", timedelta(minutes=1))
        harness.connect("main", "host", publishing=True)
        harness.connect("main", "fan", publishing=False)
        harness.server.join("main", 4242, broadcaster=True)  # a uid we never gave out
        assert provider.publishers("main") == {"host": True, "fan": False}
        provider.close()
