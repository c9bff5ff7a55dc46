"""One contract for every media provider, each against its fake vendor.

Credentials read with the vendor's own verifier; allow/revoke reach the vendor once per
state change; vendor failures surface as provider-neutral errors; webhooks verify with
the vendor's scheme before anything is stored, and are applied to the streams.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import func, select

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.media import end_stream_if_still_gone
from mylivelinks.models import MediaEventRecord, Stream
from mylivelinks.providers import media_credentials, media_provider
from mylivelinks.providers.base import ProviderRejected, ProviderUnavailable
from tests.media_checks import credentials_from_json, publish_actions, run_gone_checks
from tests.money import run_jobs

pytestmark = pytest.mark.all_media_providers

WEBHOOK_PATH = "/api/v1/webhooks/media/{}"


def _stored_events(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(MediaEventRecord))


def _hook_url(harness) -> str:
    return "http://localhost" + WEBHOOK_PATH.format(harness.name)


def _post_webhook(api, harness, kind, room, identity, **options):
    body, headers = harness.webhook(kind, room, identity, url=_hook_url(harness), **options)
    return api.post(WEBHOOK_PATH.format(harness.name), data=body, headers=headers)


@pytest.mark.parametrize("role", ["publisher", "subscriber"])
def test_credentials_carry_room_identity_role_and_expiry(app, media_harness, role):
    identity = str(uuid.uuid4())
    with app.app_context():
        credentials = media_credentials("main", identity, role)
        capabilities = media_provider().capabilities
    claims = media_harness.decode(credentials)
    assert (claims["room"], claims["identity"]) == ("main", identity)
    assert (credentials.provider, credentials.role) == (media_harness.name, role)
    expected = datetime.now(UTC) + timedelta(seconds=app.config["MEDIA_CREDENTIALS_TTL_SECONDS"])
    assert abs((claims["expires_at"] - expected).total_seconds()) < 10
    assert abs((credentials.expires_at - claims["expires_at"]).total_seconds()) < 2
    assert claims["can_subscribe"] is True
    # Agora joins with a number, named in the credentials; the others with the identity.
    assert (credentials.uid is not None) == (media_harness.name == "agora")
    if capabilities.token_enforces_role:
        assert claims["can_publish"] is (role == "publisher")


def test_allow_and_revoke_happen_once_per_state_change(api, app, main_room, media_harness):
    streamer, first, second = api.register(), api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    who = streamer["user"]["id"]
    for viewer in (first, second):
        api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
        run_jobs(app)
    assert publish_actions(app, media_harness, who) == ["allow"]
    for viewer in (first, second):
        api.delete("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
        run_jobs(app)
    assert publish_actions(app, media_harness, who) == ["allow", "revoke"]


def test_vendor_failures_surface_as_provider_neutral_errors(app, media_harness):
    with app.app_context():
        provider = media_provider()
        media_harness.fail_next(1, status=503)
        with pytest.raises(ProviderUnavailable):
            provider.close_room("contract-room")
        media_harness.fail_next(1, status=403)
        with pytest.raises(ProviderRejected):
            provider.close_room("contract-room")
        provider.close_room("contract-room")  # recovered
    assert [c["action"] for c in media_harness.calls()][-1:] == ["close_room"]


def test_a_stream_the_vendor_refuses_ends_in_error_and_frees_its_box(
    api, app, main_room, media_harness
):
    _, stream_id = _live(api, app)
    waiting = [api.register() for _ in range(12)]  # boxes 2-12, then one in the queue
    for session in waiting:
        api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(session))
    viewer = api.register()
    api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
    run_jobs(app)
    media_harness.fail_next(1, status=403)  # the revoke is refused
    api.delete("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
    run_jobs(app)
    if media_harness.name == "twilio":  # revoking is a client signal: nothing to refuse
        assert _status(app, stream_id) == ("live", None)
        return
    assert _status(app, stream_id) == ("error", "provider_rejected")
    box = api.get("/api/v1/rooms/main").get_json()["boxes"][0]
    assert box["stream"]["streamer"]["username"] == waiting[-1]["user"]["username"]


def test_going_live_while_the_vendor_is_down_is_503_with_nothing_written(
    api, app, main_room, media_harness
):
    streamer = api.register()
    with app.app_context():
        capabilities = media_provider().capabilities
    # Going live opens the vendor room; Agora's channels are implicit, so it calls nothing.
    if capabilities.explicit_rooms or media_harness.name == "local":
        media_harness.fail_next(1, status=503)
        refused = api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
        assert refused.status_code == 503
        assert api.get("/api/v1/rooms/main").get_json()["boxes"][0]["stream"] is None
    seated = api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    assert seated.status_code == 201


@pytest.mark.parametrize(
    "spoil", [{"tamper": True}, {"wrong_secret": True}, {"stale": True}], ids=str
)
def test_a_webhook_that_does_not_verify_is_400_and_nothing_is_stored(
    api, app, media_harness, spoil
):
    reply = _post_webhook(
        api, media_harness, "participant_joined", "main", str(uuid.uuid4()), **spoil
    )
    assert reply.status_code == 400
    assert _stored_events(app) == 0


def test_a_verified_webhook_is_stored_once(api, app, media_harness):
    event_id = uuid.uuid4().hex
    first = _post_webhook(
        api, media_harness, "participant_joined", "main", str(uuid.uuid4()), event_id=event_id
    )
    assert (first.status_code, first.get_json()) == (200, {"received": 1, "stored": 1})
    assert _stored_events(app) == 1
    other = "twilio" if media_harness.name != "twilio" else "livekit"
    assert api.post(WEBHOOK_PATH.format(other), data=b"{}").status_code == 404


def _live(api, app, room_slug="main"):
    streamer = api.register()
    api.post(f"/api/v1/rooms/{room_slug}/live", json={}, headers=api.auth(streamer))
    with app.app_context():
        stream_id = db.session.scalar(
            select(Stream.id).where(Stream.streamer_id == uuid.UUID(streamer["user"]["id"]))
        )
    return streamer, stream_id


def _status(app, stream_id):
    with app.app_context():
        stream = db.session.get(Stream, stream_id)
        return stream.status, stream.ended_reason


def test_a_streamer_who_left_the_vendor_room_is_ended_after_the_grace(
    api, app, main_room, media_harness
):
    streamer, stream_id = _live(api, app)
    who = streamer["user"]["id"]
    _post_webhook(api, media_harness, "participant_left", "main", who)
    run_jobs(app)
    with app.app_context():
        scheduled = Queue(DEFAULT_QUEUE, connection=get_redis()).scheduled_job_registry
        (job_id,) = scheduled.get_job_ids()
        job = Queue(DEFAULT_QUEUE, connection=get_redis()).fetch_job(job_id)
        assert job.func is end_stream_if_still_gone
        assert _status(app, stream_id) == ("live", None)  # not before the grace period
        assert job.func(*job.args) is True  # what the worker runs once the grace is over
    assert _status(app, stream_id) == ("ended", "provider_left")


@pytest.mark.parametrize("order", ["left_then_joined", "joined_then_left"])
def test_a_streamer_who_reconnects_in_the_same_second_stays_live(
    api, app, main_room, media_harness, order
):
    """A reconnect: the vendor removes the participant and adds it again within a second,
    and its webhooks, stamped to the second, may arrive in either order."""
    streamer, stream_id = _live(api, app)
    who = streamer["user"]["id"]
    media_harness.connect("main", who, publishing=False)  # nobody watches: revoked
    second = int(datetime.now(UTC).timestamp())
    left = media_harness.webhook(
        "participant_left", "main", who, url=_hook_url(media_harness), at=second
    )
    joined = media_harness.webhook(
        "participant_joined", "main", who, url=_hook_url(media_harness), at=second
    )
    for body, headers in (left, joined) if order == "left_then_joined" else (joined, left):
        reply = api.post(WEBHOOK_PATH.format(media_harness.name), data=body, headers=headers)
        assert reply.status_code == 200
    run_jobs(app)
    # A leave the vendor sequenced before the join is not even checked (Agora's clientSeq).
    assert True not in run_gone_checks(app)
    assert _status(app, stream_id) == ("live", None)


def test_a_streamer_who_joined_and_left_in_the_same_second_is_ended(
    api, app, main_room, media_harness
):
    streamer, stream_id = _live(api, app)
    who = streamer["user"]["id"]
    second = int(datetime.now(UTC).timestamp())
    for kind in ("participant_joined", "participant_left"):
        _post_webhook(api, media_harness, kind, "main", who, at=second)
    media_harness.disconnect("main", who)
    run_jobs(app)
    with app.app_context():
        has_view = media_provider().participant_present("main", who) is not None
    if not has_view and media_harness.name == "local":
        # Without a view or a sequence, a join stamped in the leave's second is taken as a
        # return (the heartbeat timeout ends a streamer who really left).
        assert run_gone_checks(app) == [False]
        return
    assert run_gone_checks(app) == [True]
    assert _status(app, stream_id) == ("ended", "provider_left")


def test_a_track_published_while_revoked_is_reported_and_revoked_again(
    api, app, main_room, media_harness
):
    streamer, _ = _live(api, app)  # nobody watches: publishing stays revoked
    who = streamer["user"]["id"]
    _post_webhook(api, media_harness, "track_published", "main", who)
    run_jobs(app)
    with app.app_context():
        outcome = db.session.scalar(select(MediaEventRecord.outcome))
    assert outcome == "published while revoked; revoked again"
    revokes = [c for c in media_harness.calls() if c["action"] in ("revoke", "disconnect")]
    if media_harness.name == "twilio":
        assert revokes == []  # Twilio only disconnects a streamer who still has tracks
    else:
        assert [(c["action"], c["identity"]) for c in revokes] == [("revoke", who)]


def test_a_finished_vendor_room_ends_the_streams_that_were_in_it(
    api, app, main_room, media_harness
):
    _, first = _live(api, app)
    _, second = _live(api, app)
    _post_webhook(api, media_harness, "room_finished", "main", None)
    run_jobs(app)
    assert _status(app, first) == ("ended", "provider_room_finished")
    assert _status(app, second) == ("ended", "provider_room_finished")


def test_a_streamer_joining_while_nobody_watches_is_revoked_at_the_vendor(
    api, app, main_room, media_harness
):
    streamer, _ = _live(api, app)
    who = streamer["user"]["id"]
    _post_webhook(api, media_harness, "participant_joined", "main", who)
    run_jobs(app)
    with app.app_context():
        outcome = db.session.scalar(select(MediaEventRecord.outcome))
    assert outcome == "joined while revoked; revoked"
    revokes = [
        (c["action"], c["identity"]) for c in media_harness.calls() if c["action"] == "revoke"
    ]
    # Twilio has no revoke to send: a streamer publishing anyway is disconnected instead.
    assert revokes == ([] if media_harness.name == "twilio" else [("revoke", who)])


@pytest.mark.parametrize("how", ["track_published", "participant_joined"])
def test_a_viewer_who_publishes_is_stopped_where_tokens_cannot_stop_them(
    api, app, main_room, media_harness, how
):
    """Agora without co-host authentication and Twilio let any token publish: a viewer who
    becomes a broadcaster (a track, or Agora's broadcaster join) is stopped at the vendor."""
    _live(api, app)
    viewer = api.register()
    opened = api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
    run_jobs(app)
    credentials = credentials_from_json(opened.get_json()["credentials"])
    # What the vendor lets this token do, not what the adapter claims.
    enforced = not media_harness.decode(credentials)["can_publish"]
    who = credentials.identity
    media_harness.connect("main", who, publishing=True)
    before = len(media_harness.calls())
    _post_webhook(api, media_harness, how, "main", who)
    run_jobs(app)
    with app.app_context():
        outcome = db.session.scalar(
            select(MediaEventRecord.outcome).order_by(MediaEventRecord.received_at.desc())
        )
    stopped = [(c["action"], c["identity"]) for c in media_harness.calls()[before:]]
    if enforced:  # their subscriber token cannot publish
        assert outcome == "nothing live for this participant"
        assert stopped == []
    elif media_harness.name == "twilio":
        if how == "participant_joined":  # a Twilio join says nothing about publishing
            assert stopped == []
        else:
            assert stopped == [("disconnect", who)]
    else:
        assert outcome == "publishing without a live stream; stopped"
        assert stopped == [("revoke", who)]


def test_each_box_connection_has_its_own_vendor_identity(api, app, main_room, media_harness):
    """Vendors replace an earlier session of the same identity: a viewer watching two boxes
    and a streamer watching another box keep every connection."""
    streamer, _ = _live(api, app)
    _live(api, app)
    viewer = api.register()
    opened = [
        api.post(f"/api/v1/rooms/main/boxes/{n}/viewers", headers=api.auth(session))
        for n, session in ((1, viewer), (2, viewer), (2, streamer))
    ]
    assert [reply.status_code for reply in opened] == [200, 200, 200]
    credentials = [reply.get_json()["credentials"] for reply in opened]
    sessions = [(c["room"], c["identity"]) for c in credentials]
    sessions.append(("main", streamer["user"]["id"]))
    assert len(set(sessions)) == 4
    for room, identity in sessions:
        media_harness.connect(room, identity, publishing=False)
    with app.app_context():
        provider = media_provider()
        assert all(provider.participant_present(*session) is not False for session in sessions)
