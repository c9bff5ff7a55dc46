"""Twilio's room limits against the service: one group room per box (50 participants each),
the durations Twilio allows, a clear 409 past a box's capacity, and the vendor room opened
for a streamer the queue seats."""

from __future__ import annotations

import pytest

from tests.fakes.twilio_harness import STATUS_CALLBACK_URL
from tests.money import run_jobs

pytestmark = pytest.mark.parametrize("media_name", ["twilio"], indirect=True)


def _go_live(api, session) -> dict:
    reply = api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(session))
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def test_each_box_is_a_twilio_room_of_its_own(api, app, main_room, media_harness):
    first, second = api.register(), api.register()
    rooms = [_go_live(api, s)["credentials"]["room"] for s in (first, second)]
    assert rooms == ["main~1", "main~2"]
    for name in rooms:
        room = media_harness.fake.room(name)
        assert room["status_callback"] == STATUS_CALLBACK_URL
        assert (room["max_participants"], room["max_participant_duration"]) == (50, 86400)
    viewer = api.register()
    opened = api.post("/api/v1/rooms/main/boxes/2/viewers", headers=api.auth(viewer))
    assert opened.get_json()["credentials"]["room"] == "main~2"


def test_a_viewer_past_a_box_s_capacity_gets_409(api, app, main_room, media_harness):
    streamer = api.register()
    _go_live(api, streamer)
    viewers = [api.register() for _ in range(50)]
    answers = [
        api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(v)).status_code
        for v in viewers
    ]
    assert answers == [200] * 49 + [409]  # the streamer and 49 viewers: Twilio's 50
    again = api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewers[0]))
    assert again.status_code == 200  # one already watching keeps their place
    refused = api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewers[-1]))
    assert "full" in refused.get_json()["message"]
    api.delete("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewers[3]))
    later = api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewers[-1]))
    assert later.status_code == 200


def test_a_streamer_seated_from_the_queue_gets_a_room_the_service_opened(
    api, app, main_room, media_harness
):
    streamers = [api.register() for _ in range(13)]
    for session in streamers[:12]:
        _go_live(api, session)
    assert _go_live(api, streamers[12])["queued"] is True
    media_harness.fake.elapse(25 * 3600)  # box 1's room reached Twilio's 24 h and ended
    assert media_harness.fake.room("main~1")["status"] == "completed"
    media_harness.reset()
    api.delete("/api/v1/rooms/main/live", headers=api.auth(streamers[0]))
    run_jobs(app)
    opened = [c for c in media_harness.calls() if c["action"] == "open_room"]
    assert [c["room"] for c in opened] == ["main~1"]
    room = media_harness.fake.room("main~1")
    assert (room["status"], room["status_callback"]) == ("in-progress", STATUS_CALLBACK_URL)
