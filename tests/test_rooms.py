"""The group room: boxes, Go Live and the queue, watching, heartbeats, and bad input."""

from __future__ import annotations

import pytest

from mylivelinks.extensions import db
from mylivelinks.providers import media_provider
from mylivelinks.seed import seed_reference_data
from tests.media_checks import credentials_from_json

pytestmark = pytest.mark.all_media_providers


def go_live(api, session, slug="main", **body):
    return api.post(f"/api/v1/rooms/{slug}/live", json=body, headers=api.auth(session))


def test_the_seeded_room_has_12_empty_boxes(api, main_room):
    room = api.get("/api/v1/rooms/main").get_json()
    assert [b["position"] for b in room["boxes"]] == list(range(1, 13))
    assert all(b["stream"] is None and b["viewer_count"] == 0 for b in room["boxes"])
    assert (room["queue_length"], room["kind"]) == (0, "group")
    assert api.get("/api/v1/rooms/nowhere").status_code == 404


def test_go_live_takes_the_lowest_free_box_or_the_requested_one(api, app, main_room, media_harness):
    first, second = api.register(), api.register()
    seated = go_live(api, first, title="hello")
    assert seated.status_code == 201
    body = seated.get_json()
    assert (body["queued"], body["box"]["position"]) == (False, 1)
    assert body["credentials"]["role"] == "publisher"
    claims = media_harness.decode(credentials_from_json(body["credentials"]))
    assert (claims["room"], claims["identity"], claims["can_publish"]) == (
        "main",
        first["user"]["id"],
        True,
    )
    assert go_live(api, second, position=7).get_json()["box"]["position"] == 7
    room = api.get("/api/v1/rooms/main").get_json()
    assert room["boxes"][0]["stream"]["streamer"]["username"] == first["user"]["username"]
    assert room["boxes"][0]["is_published"] is False  # nobody watches yet


def test_one_live_stream_per_streamer_and_taken_boxes_are_409(api, main_room):
    streamer, other = api.register(), api.register()
    go_live(api, streamer, position=3)
    assert go_live(api, streamer).status_code == 409
    assert go_live(api, other, position=3).status_code == 409
    assert go_live(api, other, position=13).status_code == 404
    assert go_live(api, other, slug="nowhere").status_code == 404


def test_a_full_room_queues_the_13th_streamer_and_seats_them_when_a_box_frees(api, main_room):
    streamers = [api.register() for _ in range(13)]
    for streamer in streamers[:12]:
        assert go_live(api, streamer).get_json()["queued"] is False
    waiting = go_live(api, streamers[12]).get_json()
    assert waiting == {
        "stream": None,
        "box": None,
        "queued": True,
        "queue_position": 1,
        "credentials": None,
    }
    assert api.get("/api/v1/rooms/main").get_json()["queue_length"] == 1
    ended = api.delete("/api/v1/rooms/main/live", headers=api.auth(streamers[4]))
    assert ended.status_code == 200 and ended.get_json()["left_queue"] is False
    room = api.get("/api/v1/rooms/main").get_json()
    assert room["queue_length"] == 0
    assert room["boxes"][4]["stream"]["streamer"]["id"] == streamers[12]["user"]["id"]


def test_a_streamer_goes_live_on_their_own_page(api):
    solo = api.register("solo_star")
    body = go_live(api, solo, slug="solo_star").get_json()
    assert body["box"]["position"] == 1
    room = api.get("/api/v1/rooms/solo_star").get_json()
    assert (room["kind"], len(room["boxes"])) == ("solo", 1)


def test_watching_gives_subscriber_credentials_and_counts_viewers(
    api, app, main_room, media_harness
):
    streamer, viewer = api.register(), api.register()
    go_live(api, streamer, position=2)
    opened = api.post("/api/v1/rooms/main/boxes/2/viewers", headers=api.auth(viewer))
    assert opened.status_code == 200
    body = opened.get_json()
    assert body["credentials"]["role"] == "subscriber"
    claims = media_harness.decode(credentials_from_json(body["credentials"]))
    with app.app_context():
        token_enforces_role = media_provider().capabilities.token_enforces_role
    assert claims["can_publish"] is not token_enforces_role  # Twilio tokens carry no role
    assert (body["box"]["viewer_count"], body["box"]["is_published"]) == (1, True)
    assert (
        api.delete("/api/v1/rooms/main/boxes/2/viewers", headers=api.auth(viewer)).status_code
        == 204
    )
    box = api.get("/api/v1/rooms/main").get_json()["boxes"][1]
    assert (box["viewer_count"], box["is_published"]) == (0, False)


def test_bad_watch_requests(api, main_room):
    viewer = api.register()
    assert (
        api.post("/api/v1/rooms/main/boxes/5/viewers", headers=api.auth(viewer)).status_code == 409
    )
    assert (
        api.post("/api/v1/rooms/main/boxes/13/viewers", headers=api.auth(viewer)).status_code == 404
    )
    assert (
        api.post("/api/v1/rooms/main/boxes/0/viewers", headers=api.auth(viewer)).status_code == 404
    )
    assert api.post("/api/v1/rooms/main/boxes/1/viewers").status_code == 401


def test_one_heartbeat_refreshes_every_open_box_and_reports_the_rest(api, main_room):
    first, second, viewer = api.register(), api.register(), api.register()
    go_live(api, first, position=1)
    go_live(api, second, position=2)
    for position in (1, 2):
        api.post(f"/api/v1/rooms/main/boxes/{position}/viewers", headers=api.auth(viewer))
    beat = api.post(
        "/api/v1/rooms/main/heartbeat", json={"positions": [1, 2, 9]}, headers=api.auth(viewer)
    ).get_json()
    assert beat == {
        "boxes": [
            {"position": 1, "refreshed": True},
            {"position": 2, "refreshed": True},
            {"position": 9, "refreshed": False},
        ],
        "streamer": False,
    }
    own = api.post("/api/v1/rooms/main/heartbeat", json={}, headers=api.auth(first)).get_json()
    assert own == {"boxes": [], "streamer": True}
    assert (
        api.post(
            "/api/v1/rooms/main/heartbeat", json={"positions": [0]}, headers=api.auth(viewer)
        ).status_code
        == 422
    )


@pytest.mark.real_session
def test_going_live_in_two_rooms_at_once_seats_the_streamer_once(app):
    from tests.helpers import ApiClient, run_concurrently

    with app.app_context():
        list(seed_reference_data())
        db.session.commit()
    api = ApiClient(app)
    streamer = api.register("twice_live")
    rooms = ["main", "twice_live"]
    statuses = run_concurrently(
        app,
        2,
        lambda client, n: client.post(
            f"/api/v1/rooms/{rooms[n]}/live", json={}, headers=api.auth(streamer)
        ),
    )
    assert sorted(statuses) == [201, 409]


def test_only_the_owner_goes_live_in_a_solo_room(api):
    owner, intruder = api.register("solo_owner"), api.register()
    assert go_live(api, owner, slug="solo_owner").status_code == 201
    api.delete("/api/v1/rooms/solo_owner/live", headers=api.auth(owner))
    assert go_live(api, intruder, slug="solo_owner").status_code == 403


def test_ending_twice_changes_nothing_more(api, app, main_room):
    from mylivelinks.models import Stream
    from mylivelinks.services.rooms.live import end_stream

    streamer = api.register()
    go_live(api, streamer)
    assert api.delete("/api/v1/rooms/main/live", headers=api.auth(streamer)).status_code == 200
    with app.app_context():
        stream = db.session.scalar(db.select(Stream).where(Stream.status == "ended"))
        before = api.get("/api/v1/rooms/main").get_json()["seconds_live_available"]
        assert end_stream(stream, reason="again", now=stream.ended_at) is None
        db.session.commit()
    assert api.get("/api/v1/rooms/main").get_json()["seconds_live_available"] == before
    assert api.delete("/api/v1/rooms/main/live", headers=api.auth(streamer)).status_code == 404
