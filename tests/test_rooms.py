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
    with app.app_context():
        box_room = media_provider().vendor_room("main", 1)  # Twilio: a room per box
    assert (claims["room"], claims["identity"], claims["can_publish"]) == (
        box_room,
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


def test_a_streamer_reads_their_place_again_seated_with_fresh_credentials_or_queued(
    api, main_room, media_harness
):
    streamers = [api.register() for _ in range(14)]

    def place(session, slug="main"):
        return api.get(f"/api/v1/rooms/{slug}/live", headers=api.auth(session))

    assert place(streamers[0]).status_code == 404  # neither live nor queued
    for streamer in streamers[:12]:
        go_live(api, streamer)
    go_live(api, streamers[12])
    go_live(api, streamers[13])

    seated = place(streamers[2])
    assert seated.status_code == 200
    body = seated.get_json()
    assert (body["queued"], body["box"]["position"], body["queue_position"]) == (False, 3, None)
    assert body["stream"]["streamer"]["id"] == streamers[2]["user"]["id"]
    claims = media_harness.decode(credentials_from_json(body["credentials"]))
    assert (claims["identity"], claims["can_publish"]) == (streamers[2]["user"]["id"], True)
    assert place(streamers[13]).get_json() == {
        "stream": None,
        "box": None,
        "queued": True,
        "queue_position": 2,
        "credentials": None,
    }

    api.delete("/api/v1/rooms/main/live", headers=api.auth(streamers[12]))  # leaves the queue
    assert place(streamers[13]).get_json()["queue_position"] == 1
    api.delete("/api/v1/rooms/main/live", headers=api.auth(streamers[0]))  # box 1 frees
    assert place(streamers[13]).get_json()["box"]["position"] == 1
    assert place(streamers[0]).status_code == 404
    assert place(streamers[1], slug="nowhere").status_code == 404
    assert api.get("/api/v1/rooms/main/live").status_code == 401


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


def _join_main(app, prefix: str, count: int) -> list[str]:
    """`count` new streamers go live in `main` (a box, or its queue once full), committed."""
    from datetime import UTC, datetime

    from mylivelinks.models import Profile
    from mylivelinks.services.rooms import live
    from mylivelinks.services.rooms.state import get_room

    with app.app_context():
        people = [
            Profile(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com") for i in range(count)
        ]
        db.session.add_all(people)
        db.session.flush()
        for streamer in people:
            room = get_room("main", lock=True)
            live.go_live(room, streamer, title=None, position=None, now=datetime.now(UTC))
        db.session.commit()
        return [str(person.id) for person in people]


def _last_ids(app, waiting_id: str) -> dict[str, str]:
    from mylivelinks.events.streams import current_last_id, room_stream_key, user_stream_key

    with app.app_context():
        return {
            "room": current_last_id(room_stream_key("main")),
            "user": current_last_id(user_stream_key(waiting_id)),
        }


def _told(app, since: dict[str, str], waiting_id: str) -> tuple[list, list]:
    """What `main` and the waiting streamer heard since `since`, without ids and names."""
    from mylivelinks.events.streams import read_events, room_stream_key, user_stream_key

    kept = ("position", "kind", "room")
    with app.app_context():
        room = read_events(room_stream_key("main"), since["room"], None)
        private = read_events(user_stream_key(waiting_id), since["user"], None)
    return (
        [(e.type, {k: v for k, v in e.data.items() if k in kept}) for e in room],
        [(e.type, e.data["kind"], e.data["data"]["position"]) for e in private],
    )


def test_a_job_ending_a_stream_tells_the_room_what_a_request_does(api, app, main_room):
    from datetime import UTC, datetime

    from sqlalchemy import select

    from mylivelinks.events.streams import read_events, room_stream_key
    from mylivelinks.jobs.media import end_stream_if_still_gone
    from mylivelinks.models import Stream

    # Over HTTP: the streamer in box 1 ends; the first in the queue takes the box.
    streamer = api.register()
    go_live(api, streamer)
    *_, first_waiting = _join_main(app, "ended_by_http_", 12)  # boxes 2-12, then the queue
    since = _last_ids(app, first_waiting)
    assert api.delete("/api/v1/rooms/main/live", headers=api.auth(streamer)).status_code == 200
    by_request = _told(app, since, first_waiting)

    # From a job, no request anywhere: the vendor reports that streamer gone from box 1.
    (second_waiting,) = _join_main(app, "ended_by_job_", 1)
    since = _last_ids(app, second_waiting)
    with app.app_context():
        in_box_1 = db.session.scalar(
            select(Stream.id).where(Stream.streamer_id == first_waiting, Stream.status == "live")
        )
        assert end_stream_if_still_gone(str(in_box_1), datetime.now(UTC)) is True
    by_job = _told(app, since, second_waiting)

    assert by_job == by_request
    room_events, private = by_job
    assert [kind for kind, _ in room_events] == [
        "chat:message",
        "stream:ended",
        "box:released",
        "chat:message",
        "box:claimed",
        "stream:started",
    ]
    assert all(data.get("position", 1) == 1 for _, data in room_events)
    assert private == [("notification", "seated", 1)]
    with app.app_context():
        ended = read_events(room_stream_key("main"), "0-0", None)
    reasons = [e.data["reason"] for e in ended if e.type == "stream:ended"]
    assert reasons == ["ended_by_streamer", "provider_left"]
