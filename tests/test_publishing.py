"""The publish controller: derived state, one provider call per change, convergence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.publishing import sweep_rooms
from mylivelinks.models import Stream
from mylivelinks.providers import media_provider
from mylivelinks.services.rooms.publishing import record_applied
from tests.media_checks import publish_actions
from tests.money import run_jobs

pytestmark = pytest.mark.all_media_providers


@pytest.fixture
def publish_calls(app, media_harness):
    """What the vendor (or the streamer's client) was told, as [(action, identity)]."""

    def calls(streamer) -> list[tuple[str, str]]:
        who = streamer["user"]["id"]
        return [(action, who) for action in publish_actions(app, media_harness, who)]

    return calls


def watch(api, viewer, position=1):
    return api.post(f"/api/v1/rooms/main/boxes/{position}/viewers", headers=api.auth(viewer))


def unwatch(api, viewer, position=1):
    return api.delete(f"/api/v1/rooms/main/boxes/{position}/viewers", headers=api.auth(viewer))


def test_first_viewer_allows_second_adds_nothing_last_out_revokes(
    api, app, main_room, publish_calls
):
    streamer, first, second = api.register(), api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    me = streamer["user"]["id"]
    watch(api, first)
    run_jobs(app)
    assert publish_calls(streamer) == [("allow", me)]
    watch(api, second)
    run_jobs(app)
    assert publish_calls(streamer) == [("allow", me)]
    unwatch(api, first)
    run_jobs(app)
    unwatch(api, second)
    run_jobs(app)
    assert publish_calls(streamer) == [("allow", me), ("revoke", me)]


def test_a_silent_viewer_is_removed_and_publishing_revoked_after_the_timeout(
    api, app, main_room, publish_calls
):
    streamer, viewer = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    watch(api, viewer)
    run_jobs(app)
    with app.app_context():
        timeout = app.config["VIEWER_TIMEOUT_SECONDS"]
        soon = datetime.now(UTC) + timedelta(seconds=timeout - 5)
        assert sweep_rooms(now=soon)["stale_viewers"] == 0
        api.post(
            "/api/v1/rooms/main/heartbeat", json={"positions": [1]}, headers=api.auth(streamer)
        )  # the streamer stays alive
        later = datetime.now(UTC) + timedelta(seconds=timeout + 1)
        assert sweep_rooms(now=later) == {
            "stale_viewers": 1,
            "ended_streams": 0,
            "out_of_sync": 1,
            "vendor_disagrees": 0,
        }
    run_jobs(app)
    me = streamer["user"]["id"]
    assert publish_calls(streamer) == [("allow", me), ("revoke", me)]
    assert api.get("/api/v1/rooms/main").get_json()["boxes"][0]["is_published"] is False


def test_a_silent_streamer_is_ended_and_the_queue_moves_up(api, app, main_room):
    streamers = [api.register() for _ in range(13)]
    for streamer in streamers:
        api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    with app.app_context():
        timeout = app.config["STREAMER_TIMEOUT_SECONDS"]
        assert (
            sweep_rooms(now=datetime.now(UTC) + timedelta(seconds=timeout - 5))["ended_streams"]
            == 0
        )
        # Past the timeout all twelve seated streamers are silent: each is ended, and the
        # first freed box goes to the streamer who waited (seated now, so not silent).
        later = datetime.now(UTC) + timedelta(seconds=timeout + 1)
        assert sweep_rooms(now=later)["ended_streams"] == 12
    room_now = api.get("/api/v1/rooms/main").get_json()
    occupants = [b["stream"]["streamer"]["id"] for b in room_now["boxes"] if b["stream"]]
    assert occupants == [streamers[12]["user"]["id"]]
    assert room_now["queue_length"] == 0


def test_a_provider_failing_3_times_then_succeeding_converges(
    api, app, main_room, publish_calls, media_harness
):
    streamer, viewer = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    media_harness.fail_next(3)  # the vendor is down for the next three calls
    waits = app.config["PUBLISH_RETRY_SECONDS"]
    app.config["PUBLISH_RETRY_SECONDS"] = [0, 0, 0, 0, 0]  # RQ re-queues at once: no sleeping
    try:
        watch(api, viewer)
        with app.app_context():
            queue = Queue(DEFAULT_QUEUE, connection=get_redis())
            SimpleWorker([queue], connection=get_redis()).work(burst=True)
            assert queue.failed_job_registry.count == 0  # retried, not given up
    finally:
        app.config["PUBLISH_RETRY_SECONDS"] = waits
    assert publish_calls(streamer) == [("allow", streamer["user"]["id"])]
    assert api.get("/api/v1/rooms/main").get_json()["boxes"][0]["is_published"] is True


def test_lost_jobs_converge_through_the_sweep(api, app, main_room, publish_calls):
    streamer, viewer = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    watch(api, viewer)
    with app.app_context():
        # A worker took the job off the queue and was killed before finishing it.
        queue = Queue(DEFAULT_QUEUE, connection=get_redis())
        (job,) = queue.get_jobs()
        queue.remove(job)
        job.set_status("started")
    assert run_jobs(app) == 0
    assert publish_calls(streamer) == []
    with app.app_context():
        sweep_rooms()
    run_jobs(app)
    assert publish_calls(streamer) == [("allow", streamer["user"]["id"])]


def test_a_sync_job_lost_between_the_queue_and_a_worker_is_queued_again(
    api, app, main_room, publish_calls
):
    streamer, viewer = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    watch(api, viewer)
    with app.app_context():
        # A worker moved the job to RQ's intermediate list, as its dequeue does, and was
        # killed before starting it: the job's status still says `queued`.
        redis = get_redis()
        queue = Queue(DEFAULT_QUEUE, connection=redis)
        redis.lmove(queue.key, queue.intermediate_queue_key)
        assert queue.count == 0
        (job_id,) = redis.lrange(queue.intermediate_queue_key, 0, -1)
        assert queue.fetch_job(job_id.decode()).get_status() == "queued"
        assert sweep_rooms()["out_of_sync"] == 1
        assert queue.count == 1  # queued again, not taken for waiting
    run_jobs(app)
    assert publish_calls(streamer) == [("allow", streamer["user"]["id"])]


def test_a_sync_whose_provider_call_outcome_is_unknown_is_asserted_again(
    api, app, main_room, publish_calls
):
    streamer, viewer = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    watch(api, viewer)
    run_jobs(app)
    me = streamer["user"]["id"]
    with app.app_context():
        # Left by a worker killed during its provider call (a revoke, the viewer having
        # looked away): the provider holds either state, the record says allowed.
        stream = db.session.scalar(select(Stream).where(Stream.streamer_id == uuid.UUID(me)))
        stream.publishing_intent, stream_id = False, stream.id
        db.session.commit()
        assert sweep_rooms()["out_of_sync"] == 1
    run_jobs(app)
    assert publish_calls(streamer) == [("allow", me), ("allow", me)]
    with app.app_context():
        assert db.session.get(Stream, stream_id).publishing_intent is None
        assert sweep_rooms()["out_of_sync"] == 0


def test_published_seconds_accumulate_between_allow_and_revoke(api, app, main_room):
    streamer = api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    with app.app_context():
        stream_id = db.session.scalar(
            select(Stream.id).where(Stream.streamer_id == uuid.UUID(streamer["user"]["id"]))
        )
        start = datetime.now(UTC)
        assert record_applied(stream_id, True, start)
        assert not record_applied(stream_id, True, start)  # already applied
        assert record_applied(stream_id, False, start + timedelta(seconds=90))
        assert record_applied(stream_id, True, start + timedelta(seconds=100))
        assert record_applied(stream_id, False, start + timedelta(seconds=110))
        db.session.commit()
        assert db.session.get(Stream, stream_id).published_seconds == 100


def test_clients_are_told_through_the_room_and_private_streams(api, app, main_room):
    from mylivelinks.events.streams import read_events, room_stream_key, user_stream_key

    streamer, viewer = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(streamer))
    watch(api, viewer)
    run_jobs(app)
    unwatch(api, viewer)
    run_jobs(app)
    with app.app_context():
        everything = read_events(room_stream_key("main"), "0-0", None)
        room_events = [e for e in everything if not e.type.startswith("chat:")]  # chat lines
        private = read_events(user_stream_key(streamer["user"]["id"]), "0-0", None)
    assert [e.type for e in room_events] == [
        "box:claimed",
        "stream:started",
        "viewer:joined",
        "viewer:count",
        "box:published",
        "viewer:left",
        "viewer:count",
        "box:unpublished",
    ]
    assert [e.data["viewer_count"] for e in room_events if e.type == "viewer:count"] == [1, 0]
    assert [e.type for e in private] == ["publish:start", "publish:stop"]
    credentials = private[0].data["credentials"]
    with app.app_context():
        box_room = media_provider().vendor_room("main", 1)
    assert (credentials["role"], credentials["room"]) == ("publisher", box_room)
