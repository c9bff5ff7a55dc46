"""Agora's channel events as its "maintain user status" guide describes them: broadcaster
and audience joins and leaves (103-106), role changes (111, 112), applied in clientSeq
order; and a project with co-host authentication on, where the token is the switch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mylivelinks.extensions import db
from mylivelinks.jobs.publishing import enforce_revoke, sweep_rooms
from mylivelinks.models import MediaEventRecord, Stream
from tests.media_checks import run_gone_checks
from tests.money import run_jobs

HOOK = "/api/v1/webhooks/media/agora"
URL = "http://localhost" + HOOK


def _live(api, app):
    streamer = api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    with app.app_context():
        stream_id = db.session.scalar(select(Stream.id).order_by(Stream.started_at.desc()))
    return streamer["user"]["id"], stream_id


def _post(api, built):
    body, headers = built
    reply = api.post(HOOK, data=body, headers=headers)
    assert reply.status_code == 200, reply.get_json()


def _outcomes(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(MediaEventRecord.outcome).order_by(MediaEventRecord.received_at)
            )
        )


@pytest.mark.parametrize("media_name", ["agora"], indirect=True)
def test_a_streamer_who_leaves_as_audience_is_ended(api, app, main_room, media_harness):
    """A revoked streamer switched to audience (112): their leave is event 106, not 104."""
    who, stream_id = _live(api, app)
    _post(api, media_harness.webhook("audience_joined", "main", who, url=URL))
    _post(api, media_harness.webhook("audience_left", "main", who, url=URL))
    run_jobs(app)
    assert run_gone_checks(app) == [True]
    with app.app_context():
        assert db.session.get(Stream, stream_id).ended_reason == "provider_left"


@pytest.mark.parametrize("media_name", ["agora"], indirect=True)
def test_role_changes_apply_in_client_seq_order(api, app, main_room, media_harness):
    """Broadcaster (111) then audience (112), delivered the other way round: the user is an
    audience member, so the late 111 is superseded, not taken for publishing while revoked."""
    who, _ = _live(api, app)  # nobody watches: revoked
    to_broadcaster = media_harness.webhook("track_published", "main", who, url=URL)
    to_audience = media_harness.webhook("track_unpublished", "main", who, url=URL)
    _post(api, to_audience)
    _post(api, to_broadcaster)
    run_jobs(app)
    assert _outcomes(app) == ["recorded", "superseded by a later event of this participant"]
    assert media_harness.calls() == []


@pytest.mark.parametrize("media_name", ["agora-cohost"], indirect=True)
def test_with_cohost_authentication_a_revoke_is_banned_only_if_still_host(
    api, app, main_room, media_harness
):
    who, stream_id = _live(api, app)
    viewer = api.register()
    api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
    run_jobs(app)
    api.delete("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
    run_jobs(app)
    assert media_harness.calls() == []  # the subscriber token (publish:stop) is the switch
    media_harness.connect("main", who, publishing=True)  # ignores it, still a host
    with app.app_context():
        assert enforce_revoke(str(stream_id)) == "disconnected"
    assert [(c["action"], c["identity"]) for c in media_harness.calls()] == [("revoke", who)]


@pytest.mark.parametrize("media_name", ["agora-cohost"], indirect=True)
def test_the_sweep_finds_a_revoked_streamer_agora_lists_as_host(api, app, main_room, media_harness):
    who, _ = _live(api, app)  # nobody watches: revoked, told to be audience
    media_harness.connect("main", who, publishing=True)  # still a host; no webhook came
    with app.app_context():
        assert sweep_rooms()["vendor_disagrees"] == 1
    run_jobs(app)
    assert [(c["action"], c["identity"]) for c in media_harness.calls()] == [("revoke", who)]
