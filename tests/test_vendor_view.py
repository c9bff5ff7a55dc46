"""The sweep against LiveKit's own view: a revoke LiveKit could not take (the streamer was
not connected yet) is recorded pending and applied once they are, even when the webhook
that would have told us is lost; the vendor is asked at most once per interval per room
unless a revoke is pending."""

from __future__ import annotations

import pytest

from mylivelinks.jobs.publishing import sweep_rooms
from tests.money import run_jobs

pytestmark = pytest.mark.parametrize("media_name", ["livekit"], indirect=True)


def _live(api, app) -> str:
    streamer = api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    return streamer["user"]["id"]


def _watch_then_leave(api, app) -> None:
    viewer = api.register()
    api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
    run_jobs(app)
    api.delete("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
    run_jobs(app)


def _listings(media_harness) -> int:
    return sum(1 for c in media_harness.fake.calls() if c["method"] == "ListParticipants")


def test_a_revoke_before_the_streamer_connects_is_applied_by_the_sweep(
    api, app, main_room, media_harness
):
    who = _live(api, app)
    _watch_then_leave(api, app)  # allowed, then revoked, before the streamer connected
    revokes = [p for p in media_harness.permissions() if not p["permission"]["can_publish"]]
    assert [(p["identity"], p["status"]) for p in revokes] == [(who, 404)]  # not_found
    # They connect with their publisher token; LiveKit's participant_joined never arrives.
    media_harness.connect("main", who, publishing=True)
    with app.app_context():
        assert sweep_rooms()["vendor_disagrees"] == 1
    run_jobs(app)
    assert media_harness.fake.participants[("main", who)].permission.can_publish is False
    with app.app_context():
        assert sweep_rooms()["vendor_disagrees"] == 0


def test_the_vendor_is_asked_once_per_interval_unless_a_revoke_is_pending(
    api, app, main_room, media_harness
):
    who = _live(api, app)  # nobody watches: revoked
    media_harness.connect("main", who, publishing=False)
    with app.app_context():
        sweep_rooms()
        sweep_rooms()
    assert _listings(media_harness) == 1  # MEDIA_VENDOR_VIEW_SECONDS apart at most
    media_harness.disconnect("main", who)
    _watch_then_leave(api, app)  # this revoke is pending: LiveKit did not have them
    with app.app_context():
        sweep_rooms()
        sweep_rooms()
    assert _listings(media_harness) == 3  # every sweep while pending
    media_harness.connect("main", who, publishing=False)
    with app.app_context():
        assert sweep_rooms()["vendor_disagrees"] == 0  # they comply: pending no more
        sweep_rooms()
    assert _listings(media_harness) == 4
