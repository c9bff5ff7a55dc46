"""Presence in Redis: heartbeats answered there, and healed from the database when lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs.publishing import sweep_rooms
from mylivelinks.models import Profile
from mylivelinks.services.rooms import live, presence, watching
from mylivelinks.services.rooms.state import active_viewer_counts, get_room
from tests.money import run_jobs

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
    # Redis lost its data: the open box still counts until a timeout has passed since.
    assert _viewer_counts(api) == {3: 1}

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
        lost = datetime.now(UTC)
        timeout = app.config["STREAMER_TIMEOUT_SECONDS"]
        assert sweep_rooms(now=lost) == {
            "stale_viewers": 0,
            "ended_streams": 0,
            "out_of_sync": 0,
            "vendor_disagrees": 0,
        }
        assert sweep_rooms(now=lost + timedelta(seconds=timeout - 5))["ended_streams"] == 0
        later = lost + timedelta(seconds=timeout + 1)
        assert sweep_rooms(now=later)["ended_streams"] == 1


def _age_everything(app, seconds: int) -> None:
    """Streams started and boxes opened `seconds` ago, as on a service running for a while."""
    with app.app_context():
        shift = {"age": timedelta(seconds=seconds)}
        db.session.execute(text("UPDATE streams SET started_at = started_at - :age"), shift)
        db.session.execute(text("UPDATE box_viewers SET joined_at = joined_at - :age"), shift)
        db.session.commit()


def _watched_stream(api, app):
    streamer, viewer = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(viewer))
    _age_everything(app, 3600)
    assert _beat(api, streamer, []).get_json()["streamer"] is True
    assert _beat(api, viewer, [1]).get_json()["boxes"] == [{"position": 1, "refreshed": True}]
    run_jobs(app)  # published: out of sync later means a revoke
    return streamer, viewer


def test_a_redis_flush_ends_no_stream_and_removes_no_viewer_before_a_timeout(api, app, main_room):
    streamer, _ = _watched_stream(api, app)
    with app.app_context():
        get_redis().flushall()
        lost = datetime.now(UTC)
        viewer_timeout = app.config["VIEWER_TIMEOUT_SECONDS"]
        streamer_timeout = app.config["STREAMER_TIMEOUT_SECONDS"]
        for seconds in (0, 1, viewer_timeout - 1):
            swept = sweep_rooms(now=lost + timedelta(seconds=seconds))
            assert swept == {
                "stale_viewers": 0,
                "ended_streams": 0,
                "out_of_sync": 0,
                "vendor_disagrees": 0,
            }
    room = api.get("/api/v1/rooms/main").get_json()
    assert room["boxes"][0]["stream"]["streamer"]["id"] == streamer["user"]["id"]
    assert room["boxes"][0]["viewer_count"] == 1
    assert _beat(api, streamer, []).get_json()["streamer"] is True
    # Silent from the loss on: removed once a full timeout has passed since the loss.
    with app.app_context():
        later = lost + timedelta(seconds=viewer_timeout + 1)
        assert sweep_rooms(now=later)["stale_viewers"] == 1
        last = lost + timedelta(seconds=streamer_timeout + 30)
        assert sweep_rooms(now=last)["ended_streams"] == 1


def test_a_redis_restart_from_an_older_dump_times_nobody_out_at_once(api, app, main_room):
    _watched_stream(api, app)
    with app.app_context():
        redis = get_redis()
        sweep_rooms()  # the epoch is this server's
        # As a dump saved by the server before the restart: older heartbeats, its run id.
        hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
        redis.hset(presence.EPOCH_KEY, mapping={"since": hour_ago, "run": "0" * 40})
        redis.zadd(presence.STREAMERS_KEY, {member: hour_ago for member in _members(redis)})
        for key in redis.scan_iter("presence:stream:*"):
            redis.zadd(key, {m: hour_ago for m in redis.zrange(key, 0, -1)})
        assert sweep_rooms() == {
            "stale_viewers": 0,
            "ended_streams": 0,
            "out_of_sync": 0,
            "vendor_disagrees": 0,
        }
    assert api.get("/api/v1/rooms/main").get_json()["boxes"][0]["viewer_count"] == 1


def _members(redis) -> list[bytes]:
    return redis.zrange(presence.STREAMERS_KEY, 0, -1)


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
