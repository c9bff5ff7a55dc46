"""Presence in Redis: heartbeats answered there, and healed from the database when lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs.publishing import sweep_rooms
from mylivelinks.models import Profile
from mylivelinks.services.rooms import live, presence, watching
from mylivelinks.services.rooms.state import active_viewer_counts, get_room

pytestmark = pytest.mark.all_media_providers


def _beat(api, session, positions, slug="main"):
    return api.post(
        f"/api/v1/rooms/{slug}/heartbeat", json={"positions": positions}, headers=api.auth(session)
    )


def _viewer_counts(api):
    room = api.get("/api/v1/rooms/main").get_json()
    return {b["position"]: b["viewer_count"] for b in room["boxes"] if b["stream"]}


def test_heartbeats_heal_presence_that_redis_lost(api, app, main_room):
    streamer, viewer = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={"position": 3}, headers=api.auth(streamer))
    api.post("/api/v1/rooms/main/boxes/3/viewers", headers=api.auth(viewer))
    assert _viewer_counts(api) == {3: 1}
    with app.app_context():
        get_redis().flushdb()
    assert _viewer_counts(api) == {3: 0}  # a row alone is not an active viewer

    assert _beat(api, viewer, [3]).get_json()["boxes"] == [{"position": 3, "refreshed": True}]
    assert _beat(api, streamer, []).get_json()["streamer"] is True
    assert _viewer_counts(api) == {3: 1}
    # Recorded again: a sweep just short of the timeouts keeps both.
    soon = datetime.now(UTC) + timedelta(seconds=app.config["VIEWER_TIMEOUT_SECONDS"] - 2)
    with app.app_context():
        assert sweep_rooms(now=soon)["stale_viewers"] == 0
        assert sweep_rooms(now=soon)["ended_streams"] == 0


def test_a_streamer_whose_presence_was_lost_and_who_stays_silent_is_ended(api, app, main_room):
    streamer = api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    with app.app_context():
        get_redis().flushdb()
        timeout = app.config["STREAMER_TIMEOUT_SECONDS"]
        assert sweep_rooms(now=datetime.now(UTC) + timedelta(seconds=timeout - 5)) == {
            "stale_viewers": 0,
            "ended_streams": 0,
            "out_of_sync": 0,
        }
        later = datetime.now(UTC) + timedelta(seconds=timeout + 1)
        assert sweep_rooms(now=later)["ended_streams"] == 1


def test_known_not_live_then_going_live_counts_the_streamers_heartbeats(api, main_room):
    person = api.register()
    assert _beat(api, person, []).get_json()["streamer"] is False  # remembered: not live
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(person))
    assert _beat(api, person, []).get_json()["streamer"] is True
    api.delete("/api/v1/rooms/main/live", headers=api.auth(person))
    assert _beat(api, person, []).get_json()["streamer"] is False


def test_a_streamer_live_in_their_own_room_is_refreshed_only_there(api, main_room):
    streamer = api.register()
    username = api.get("/api/v1/me", headers=api.auth(streamer)).get_json()["username"]
    assert (
        api.post(f"/api/v1/rooms/{username}/live", json={}, headers=api.auth(streamer)).status_code
        == 201
    )
    assert _beat(api, streamer, []).get_json()["streamer"] is False  # main: not live there
    assert _beat(api, streamer, [], slug=username).get_json()["streamer"] is True
    assert _beat(api, streamer, []).get_json()["streamer"] is False  # answered by Redis now


def test_a_heartbeat_for_a_room_that_does_not_exist_is_404(api, main_room):
    assert _beat(api, api.register(), [1], slug="nowhere").status_code == 404


def test_an_open_box_that_was_rolled_back_does_not_count(app, main_room):
    now = datetime.now(UTC)
    with app.app_context():
        streamer = Profile(username="rb_streamer", email="rb_streamer@example.com")
        viewer = Profile(username="rb_viewer", email="rb_viewer@example.com")
        db.session.add_all([streamer, viewer])
        db.session.flush()
        stream = live.go_live(
            get_room("main", lock=True), streamer, title=None, position=1, now=now
        ).stream
        savepoint = db.session.begin_nested()
        watching.open_box(get_room("main"), 1, viewer, now)
        savepoint.rollback()
        # Redis kept the heartbeat, the database did not keep the box: not a viewer.
        assert get_redis().zscore(f"presence:stream:{stream.id}", str(viewer.id)) is not None
        assert active_viewer_counts([stream.id], now) == {stream.id: 0}
        db.session.rollback()


def test_an_open_room_stream_refreshes_its_viewers_boxes_in_that_room_only(app):
    viewer, stream_1, stream_2, elsewhere = (uuid.uuid4() for _ in range(4))
    then = datetime.now(UTC) - timedelta(minutes=5)
    now = datetime.now(UTC)
    with app.app_context():
        presence.viewer_seen("main", 1, stream_1, viewer, then)
        presence.viewer_seen("main", 2, stream_2, viewer, then)
        presence.viewer_seen("other", 1, elsewhere, viewer, then)
        presence.viewer_gone("main", 2, stream_2, viewer)  # closed: not brought back

        assert presence.refresh_listening([(viewer, "main")], now) == 1
        recent = now - timedelta(seconds=1)
        assert presence.active_viewers([stream_1, stream_2, elsewhere], recent) == {
            stream_1: {viewer},
            stream_2: set(),
            elsewhere: set(),
        }
        assert presence.refresh_listening([], now) == 0


def test_listeners_are_refreshed_in_calls_of_a_bounded_size(app):
    stream_id, then, now = uuid.uuid4(), datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC)
    viewers = [uuid.uuid4() for _ in range(2 * presence.LISTENERS_PER_CALL + 1)]
    with app.app_context():
        for viewer in viewers:
            presence.viewer_seen("main", 1, stream_id, viewer, then)
        assert presence.refresh_listening([(v, "main") for v in viewers], now) == len(viewers)
        recent = now - timedelta(seconds=1)
        assert presence.active_viewers([stream_id], recent) == {stream_id: set(viewers)}
