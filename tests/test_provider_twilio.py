"""The Twilio Video adapter against FakeTwilio, spoken to by the official `twilio` package."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import jwt
import pytest
import requests
from twilio.request_validator import RequestValidator

from mylivelinks import create_app
from mylivelinks.providers.base import (
    ProviderRejected,
    ProviderUnavailable,
    WebhookVerificationFailed,
)
from mylivelinks.providers.twilio import TwilioProvider
from tests.conftest import make_config
from tests.fakes.twilio_harness import TwilioHarness, twilio_signature
from tests.fakes.twilio_server import RoomFull
from tests.media_checks import VENDOR_FAILURES

HOOK_URL = "https://api.example.com/webhooks/twilio"


@pytest.fixture(scope="module")
def harness():
    twilio = TwilioHarness()
    twilio.start()
    yield twilio
    twilio.stop()


@pytest.fixture
def fake(harness):
    harness.fake.reset(rooms=True)
    return harness.fake


def make_provider(harness: TwilioHarness, **overrides) -> TwilioProvider:
    settings = {
        "account_sid": harness.account_sid,
        "api_key_sid": harness.api_key_sid,
        "api_key_secret": harness.api_key_secret,
        "auth_token": harness.auth_token,
        "api_url": harness.fake.base_url,
        "timeout": 2.0,
        **overrides,
    }
    return TwilioProvider(**settings)


@pytest.fixture
def provider(harness, fake):
    adapter = make_provider(harness)
    yield adapter
    adapter.close()


def test_the_app_built_from_the_harness_settings_talks_to_the_fake(server_urls, harness, fake):
    app = create_app(make_config(server_urls, **harness.settings()))
    adapter = app.extensions["media_provider"]
    assert isinstance(adapter, TwilioProvider)
    adapter.open_room("lobby")
    assert harness.calls() == [{"action": "open_room", "room": "lobby", "identity": None}]
    assert fake.room("lobby")["type"] == "group"


def test_an_unconfigured_adapter_builds_but_refuses_to_work():
    adapter = TwilioProvider(
        account_sid=None, api_key_sid=None, api_key_secret=None, auth_token=None
    )
    with pytest.raises(ProviderRejected, match="TWILIO_API_KEY_SID"):
        adapter.open_room("main")
    with pytest.raises(ProviderRejected, match="not configured"):
        adapter.credentials("main", "42", "publisher", timedelta(hours=1))
    with pytest.raises(WebhookVerificationFailed):
        adapter.verify_webhook(b"RoomName=main", {"X-Twilio-Signature": "x"}, HOOK_URL)


def test_capabilities_are_honest():
    caps = TwilioProvider.capabilities
    assert TwilioProvider.name == "twilio"
    assert not caps.server_side_publish_control and not caps.token_enforces_role
    assert caps.client_signal_required and caps.explicit_rooms and caps.webhooks


@pytest.mark.parametrize("role", ["publisher", "subscriber"])
def test_credentials_grant_the_room_to_the_identity_until_exp(harness, provider, role):
    before = datetime.now(UTC).replace(microsecond=0)
    creds = provider.credentials("main", "42", role, timedelta(hours=2))
    assert (creds.provider, creds.room, creds.identity) == ("twilio", "main", "42")
    assert creds.role == role
    assert creds.url == harness.fake.base_url
    decoded = harness.decode(creds)
    assert decoded["room"] == "main" and decoded["identity"] == "42"
    assert decoded["expires_at"] == creds.expires_at
    assert before + timedelta(hours=2) <= creds.expires_at <= before + timedelta(hours=2, seconds=2)
    assert jwt.get_unverified_header(creds.token)["cty"] == "twilio-fpa;v=1"
    claims = jwt.decode(creds.token, options={"verify_signature": False})
    assert (claims["iss"], claims["sub"]) == (harness.api_key_sid, harness.account_sid)
    assert claims["grants"]["video"] == {"room": "main"}


def test_credentials_are_signed_with_the_api_key_secret(harness):
    other = make_provider(harness, api_key_secret="another-secret-0123456789abcdef0123")
    creds = other.credentials("main", "42", "publisher", timedelta(hours=1))
    with pytest.raises(jwt.InvalidSignatureError):
        harness.decode(creds)


def test_credentials_never_outlive_twilio_s_24_hour_limit(harness, provider):
    creds = provider.credentials("main", "42", "subscriber", timedelta(days=3))
    assert creds.expires_at <= datetime.now(UTC) + timedelta(hours=24)
    assert harness.decode(creds)["expires_at"] == creds.expires_at


def test_the_default_url_is_twilio_s(harness):
    creds = make_provider(harness, api_url=None).credentials("r", "1", "publisher", timedelta(1))
    assert creds.url == "https://video.twilio.com"


def test_set_publishing_makes_no_vendor_call(harness, provider, fake):
    fake.join("main", "42")
    provider.set_publishing("main", "42", False)
    provider.set_publishing("main", "42", True)
    assert fake.calls == []
    assert harness.calls() == []
    assert not harness.publish_control_is_server_side


def test_enforce_revoke_disconnects_a_participant_still_publishing(harness, provider, fake):
    fake.join("main", "42")
    fake.join("main", "7")
    assert provider.enforce_revoke("main", "42") is True
    assert fake.participant("main", "42")["status"] == "disconnected"
    assert fake.participant("main", "7")["status"] == "connected"
    assert harness.calls() == [{"action": "disconnect", "room": "main", "identity": "42"}]


def test_enforce_revoke_leaves_a_participant_who_stopped_publishing_alone(harness, provider, fake):
    fake.join("main", "42")
    fake.unpublish("main", "42")
    assert provider.enforce_revoke("main", "42") is False
    assert fake.participant("main", "42")["status"] == "connected"
    assert harness.calls() == []


def test_a_data_track_alone_is_not_publishing_media(provider, fake):
    fake.join("main", "42", tracks=["data"])
    assert provider.enforce_revoke("main", "42") is False
    assert fake.participant("main", "42")["status"] == "connected"


def test_enforce_revoke_of_an_absent_participant_is_false(harness, provider, fake):
    assert provider.enforce_revoke("nowhere", "42") is False
    fake.join("main", "7")
    assert provider.enforce_revoke("main", "42") is False
    fake.join("main", "42")
    provider.close_room("main")
    assert provider.enforce_revoke("main", "42") is False
    assert [c["action"] for c in harness.calls()] == ["close_room"]


def test_open_room_creates_a_group_room_and_tolerates_an_existing_one(harness, provider, fake):
    provider.open_room("main")
    first = fake.room("main")
    provider.open_room("main")
    assert fake.room("main")["sid"] == first["sid"]
    assert first["type"] == "group" and first["status"] == "in-progress"
    assert len(fake.rooms) == 1
    assert [c["status"] for c in fake.calls] == [201, 400]
    assert harness.calls() == [{"action": "open_room", "room": "main", "identity": None}] * 2


def test_open_room_asks_for_status_callbacks_when_configured(harness, fake):
    make_provider(harness, status_callback=HOOK_URL).open_room("main")
    params = fake.calls[0]["params"]
    assert params["StatusCallback"] == HOOK_URL and params["StatusCallbackMethod"] == "POST"
    assert fake.room("main")["status_callback"] == HOOK_URL


def test_close_room_completes_it_and_disconnects_everyone(harness, provider, fake):
    provider.open_room("main")
    fake.join("main", "42")
    provider.close_room("main")
    assert fake.room("main")["status"] == "completed"
    assert fake.participant("main", "42")["status"] == "disconnected"
    provider.close_room("main")  # already ended: Twilio no longer knows the name
    provider.close_room("never-opened")
    assert [c["action"] for c in harness.calls()] == ["open_room"] + ["close_room"] * 3
    provider.open_room("main")  # the name is free again
    assert fake.room("main")["status"] == "in-progress"


def test_a_wrong_api_key_secret_is_rejected(harness, fake):
    adapter = make_provider(harness, api_key_secret="wrong")
    with pytest.raises(ProviderRejected, match="401"):
        adapter.open_room("main")
    with pytest.raises(ProviderRejected, match="401"):
        adapter.enforce_revoke("main", "42")
    assert [c["status"] for c in fake.calls] == [401, 401]
    assert fake.rooms == {} and harness.calls() == []


def test_the_fake_checks_basic_auth_like_twilio(harness, fake):
    import requests

    url = f"{fake.base_url}/v1/Rooms"
    answer = requests.post(url, data={"UniqueName": "a"}, auth=(harness.api_key_sid, "x"))
    assert answer.status_code == 401
    assert answer.json()["code"] == 20003 and answer.json()["message"] == "Authenticate"
    by_token = requests.post(url, data={"UniqueName": "a"}, auth=(fake.account_sid, "wrong"))
    assert by_token.status_code == 401
    login = (harness.account_sid, harness.auth_token)
    assert requests.post(url, data={"UniqueName": "a"}, auth=login).status_code == 201


OPERATIONS = {
    "open_room": lambda p: p.open_room("main"),
    "close_room": lambda p: p.close_room("main"),
    "enforce_revoke": lambda p: p.enforce_revoke("main", "42"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("status", "error"), VENDOR_FAILURES)
def test_vendor_failures_map_to_our_errors(harness, provider, fake, operation, status, error):
    fake.join("main", "42")
    harness.fail_next(1, status)
    with pytest.raises(error, match=str(status)):
        OPERATIONS[operation](provider)
    assert harness.calls() == []
    OPERATIONS[operation](provider)  # the failure was one-off


def test_a_slow_twilio_times_out_as_unavailable(harness, fake):
    adapter = make_provider(harness, timeout=0.2)
    fake.answer_slowly(0.6)
    try:
        with pytest.raises(ProviderUnavailable, match="could not be reached"):
            adapter.open_room("main")
    finally:
        fake.answer_slowly(0)


def test_an_unreachable_twilio_is_unavailable(harness):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = make_provider(harness, api_url=f"http://127.0.0.1:{port}")
    for operation in OPERATIONS.values():
        with pytest.raises(ProviderUnavailable):
            operation(adapter)


@pytest.mark.parametrize(
    ("kind", "identity"),
    [
        ("participant_joined", "42"),
        ("participant_left", "42"),
        ("track_published", "42"),
        ("track_unpublished", "42"),
        ("room_finished", None),
    ],
)
def test_status_callbacks_are_verified_and_normalised(harness, provider, fake, kind, identity):
    provider.open_room("main")
    room_sid = fake.room("main")["sid"]
    body, headers = harness.webhook(kind, "main", identity or "42", url=HOOK_URL)
    [event] = provider.verify_webhook(body, headers, HOOK_URL)
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert (event.provider, event.kind, event.room, event.identity) == (
        "twilio",
        kind,
        "main",
        identity,
    )
    assert event.event_id == f"{room_sid}:0:{form['StatusCallbackEvent']}"
    assert abs(event.occurred_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert event.payload == form


def test_event_ids_follow_the_room_s_sequence(harness, provider, fake):
    provider.open_room("main")
    first = harness.webhook("participant_joined", "main", "42", url=HOOK_URL)
    second = harness.webhook("participant_joined", "main", "42", url=HOOK_URL)
    ids = [provider.verify_webhook(*hook, HOOK_URL)[0].event_id for hook in (first, second)]
    assert ids[0] != ids[1]
    again = [harness.webhook("room_finished", "main", None, url=HOOK_URL, event_id="e1")]
    again.append(harness.webhook("room_finished", "main", None, url=HOOK_URL, event_id="e1"))
    same = {provider.verify_webhook(*hook, HOOK_URL)[0].event_id for hook in again}
    assert len(same) == 1


def test_callbacks_the_service_does_not_use_give_nothing(harness, provider):
    for event in ("room-created", "track-enabled", "recording-started"):
        body, headers = harness.webhook(event, "main", "42", url=HOOK_URL)
        assert provider.verify_webhook(body, headers, HOOK_URL) == []


def test_the_signature_header_is_found_in_any_case(harness, provider):
    body, headers = harness.webhook("participant_joined", "main", "42", url=HOOK_URL)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert provider.verify_webhook(body, lowered, HOOK_URL)[0].identity == "42"


@pytest.mark.parametrize("defect", ["tamper", "wrong_secret", "stale"])
def test_a_bad_signature_fails_verification(harness, provider, defect):
    body, headers = harness.webhook(
        "participant_joined", "main", "42", url=HOOK_URL, **{defect: True}
    )
    with pytest.raises(WebhookVerificationFailed):
        provider.verify_webhook(body, headers, HOOK_URL)


def test_the_signature_covers_the_url_and_must_be_present(harness, provider):
    body, headers = harness.webhook("participant_joined", "main", "42", url=HOOK_URL)
    with pytest.raises(WebhookVerificationFailed):
        provider.verify_webhook(body, headers, HOOK_URL + "?x=1")
    with pytest.raises(WebhookVerificationFailed):
        provider.verify_webhook(body, {"Content-Type": headers["Content-Type"]}, HOOK_URL)
    with pytest.raises(WebhookVerificationFailed):
        provider.verify_webhook(b"\xff\xfe", headers, HOOK_URL)


def test_the_harness_signs_exactly_like_twilio(harness):
    params = {"RoomName": "main", "AccountSid": harness.account_sid, "SequenceNumber": "3"}
    expected = RequestValidator(harness.auth_token).compute_signature(HOOK_URL, params)
    assert twilio_signature(harness.auth_token, HOOK_URL, params) == expected


@pytest.mark.parametrize("proxy_hops, status", [("1", 200), ("0", 400)])
def test_behind_a_proxy_the_signed_public_url_is_rebuilt_from_forwarded_headers(
    server_urls, app, harness, proxy_hops, status
):
    behind_proxy = create_app(make_config(server_urls, PROXY_HOPS=proxy_hops, **harness.settings()))
    public_url = "https://media.example.com/api/v1/webhooks/media/twilio"
    body, headers = harness.webhook("participant_joined", "main", "someone", url=public_url)
    reply = behind_proxy.test_client().post(
        "/api/v1/webhooks/media/twilio",
        data=body,
        headers={**headers, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "media.example.com"},
    )
    assert reply.status_code == status  # without trusting the proxy, the URL does not match


def test_presence_is_twilio_s_view_of_the_connected_participant(harness, provider, fake):
    assert provider.participant_present("main", "dora") is False  # no such room
    harness.connect("main", "dora")
    assert provider.participant_present("main", "dora") is True
    harness.disconnect("main", "dora")
    assert provider.participant_present("main", "dora") is False


def test_open_room_asks_for_the_longest_durations_twilio_allows(provider, fake):
    provider.open_room("main~3")
    room = fake.room("main~3")
    assert (room["max_participants"], room["max_participant_duration"]) == (50, 86400)
    assert (room["unused_room_timeout"], room["empty_room_timeout"]) == (60, 5)
    assert TwilioProvider.capabilities.max_participants_per_room == 50
    assert TwilioProvider.capabilities.max_room_seconds == 86400


def test_each_box_has_its_own_vendor_room(provider):
    assert provider.vendor_room("main", 3) == "main~3"
    assert provider.room_of("main~3") == ("main", 3)
    assert provider.room_of("alice") == ("alice", None)
    assert provider.vendor_room("main", None) == "main"


def test_the_fake_admits_fifty_participants_and_no_more(fake):
    fake.reset(rooms=True)
    for n in range(50):
        fake.join("full", f"p{n}", ())
    with pytest.raises(RoomFull):
        fake.join("full", "p50", ())
    fake.join("full", "p7", ())  # the same identity again replaces its own session


def test_the_fake_applies_twilio_s_timers(provider, fake):
    fake.reset(rooms=True)
    fake.join("ad-hoc", "client", ())  # a client creates it: defaults, no callback
    assert fake.room("ad-hoc")["status_callback"] is None
    assert fake.room("ad-hoc")["max_participant_duration"] == 14400
    provider.open_room("ours")
    fake.join("ours", "streamer", ())
    provider.open_room("unused")
    fake.elapse(6 * 60)
    assert fake.room("unused")["status"] == "in-progress"  # 60 minutes to be joined
    fake.elapse(4 * 3600)
    assert fake.participant("ad-hoc", "client")["status"] == "disconnected"  # 4 h default
    assert fake.participant("ours", "streamer")["status"] == "connected"  # up to 24 h
    assert fake.room("unused")["status"] == "completed"
    fake.elapse(20 * 3600)
    assert fake.room("ours")["status"] == "completed"  # a room lasts 24 h at most


@pytest.mark.parametrize(
    "params",
    [{"MaxParticipants": "51"}, {"MaxParticipantDuration": "90000"}, {"UnusedRoomTimeout": "0"}],
    ids=str,
)
def test_the_fake_refuses_limits_twilio_refuses(harness, fake, params):
    reply = requests.post(
        f"{fake.base_url}/v1/Rooms",
        data={"UniqueName": "bad", **params},
        auth=(harness.api_key_sid, harness.api_key_secret),
        timeout=5,
    )
    assert reply.status_code == 400
