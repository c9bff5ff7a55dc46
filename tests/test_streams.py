"""Streams: stats saved when they end, viewer sessions, one stream, a profile's, search."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mylivelinks.extensions import db
from mylivelinks.models import Profile, Stream, ViewerSession
from mylivelinks.services.rooms import live, watching
from mylivelinks.services.rooms.state import get_room
from mylivelinks.services.rooms.sweep import remove_silent_viewers
from tests.money import grant, send_gift

LIVE = "/api/v1/rooms/main/live"


def _box(position):
    return f"/api/v1/rooms/main/boxes/{position}/viewers"


def _stream_id(app, session) -> uuid.UUID:
    with app.app_context():
        return db.session.scalar(
            select(Stream.id)
            .where(Stream.streamer_id == uuid.UUID(session["user"]["id"]))
            .order_by(Stream.created_at.desc())
        )


def _say(api, session, body):
    response = api.post("/api/v1/rooms/main/chat", json={"body": body}, headers=api.auth(session))
    assert response.status_code == 201


def test_the_stats_of_an_ended_stream_match_what_happened(api, app, main_room):
    streamer, fan, passer_by = api.register(), api.register(), api.register()
    api.post(LIVE, json={"position": 2}, headers=api.auth(streamer))
    stream_id = _stream_id(app, streamer)
    grant(app, fan, 10)

    api.post(_box(2), headers=api.auth(fan))
    _say(api, fan, "hello")
    _say(api, fan, "nice")
    assert send_gift(api, fan, "Rose", 3, room="main", position=2).status_code == 201
    api.post(_box(2), headers=api.auth(passer_by))
    _say(api, streamer, "thanks!")
    _say(api, api.register(), "a message from someone not watching")
    api.delete(_box(2), headers=api.auth(passer_by))
    api.delete(_box(2), headers=api.auth(fan))
    api.post(_box(2), headers=api.auth(fan))  # a second session

    during = api.get(f"/api/v1/streams/{stream_id}").get_json()
    assert during["status"] == "live"
    assert during["stats"]["current_viewers"] == 1
    assert during["stats"]["total_views"] == 3
    assert during["stats"]["unique_viewers"] == 2

    api.delete(LIVE, headers=api.auth(streamer))
    ended = api.get(f"/api/v1/streams/{stream_id}").get_json()
    assert ended["status"] == "ended" and ended["ended_reason"] == "ended_by_streamer"
    assert ended["streamer"]["username"] == streamer["user"]["username"]
    assert (ended["room"], ended["position"]) == ("main", 2)
    stats = ended["stats"]
    assert stats["current_viewers"] == 0
    assert stats["peak_viewers"] == 2
    assert (stats["total_views"], stats["unique_viewers"]) == (3, 2)
    assert stats["chat_messages"] == 3  # the fan's two and the streamer's one
    assert (stats["gifts_received"], stats["gift_coins_received"]) == (3, 3)  # 3 roses
    assert stats["seconds_published"] <= stats["duration_seconds"]
    with app.app_context():
        sessions = db.session.scalars(
            select(ViewerSession)
            .where(ViewerSession.stream_id == stream_id)
            .order_by(ViewerSession.joined_at)
        ).all()
        assert all(s.left_at is not None for s in sessions)
        fan_first = sessions[0]
        assert str(fan_first.viewer_id) == fan["user"]["id"]
        assert (fan_first.messages_sent, fan_first.gifts_sent, fan_first.gift_coins_sent) == (
            2,
            3,
            3,
        )
        assert [(s.messages_sent, s.gifts_sent) for s in sessions[1:]] == [(0, 0), (0, 0)]


def test_chat_messages_read_the_same_while_live_and_once_ended(api, app, main_room):
    streamer, viewer = api.register(), api.register()
    api.post(LIVE, json={"position": 3}, headers=api.auth(streamer))
    stream_id = _stream_id(app, streamer)
    api.post(_box(3), headers=api.auth(viewer))
    _say(api, viewer, "hi")  # said in a session still open
    _say(api, streamer, "welcome")
    during = api.get(f"/api/v1/streams/{stream_id}").get_json()["stats"]["chat_messages"]
    api.delete(LIVE, headers=api.auth(streamer))
    after = api.get(f"/api/v1/streams/{stream_id}").get_json()["stats"]["chat_messages"]
    assert (during, after) == (2, 2)


def test_watch_seconds_follow_each_way_of_leaving(api, app, main_room):
    streamer, closer, silent, stayer = (api.register() for _ in range(4))
    with app.app_context():
        people = {
            name: db.session.get(Profile, uuid.UUID(session["user"]["id"]))
            for name, session in {
                "streamer": streamer,
                "closer": closer,
                "silent": silent,
                "stayer": stayer,
            }.items()
        }
        t0 = datetime.now(UTC)
        stream = live.go_live(
            get_room("main", lock=True), people["streamer"], title=None, position=7, now=t0
        ).stream
        room = get_room("main")
        for name in ("closer", "silent", "stayer"):
            watching.open_box(room, 7, people[name], t0 + timedelta(seconds=10))
        watching.close_box(room, 7, people["closer"], t0 + timedelta(seconds=70))  # 60 s
        timeout = app.config["VIEWER_TIMEOUT_SECONDS"]
        # Nobody heartbeats: the sweep ends the silent sessions where they were last
        # possibly seen (the timeout before the sweep).
        swept_at = t0 + timedelta(seconds=10 + timeout + 40)
        watching.heartbeat("main", people["stayer"].id, [7], swept_at)
        remove_silent_viewers(swept_at)
        live.end_stream(
            stream, reason="ended_by_streamer", now=t0 + timedelta(seconds=100 + timeout)
        )
        db.session.flush()
        watched = dict(
            db.session.execute(
                select(ViewerSession.viewer_id, ViewerSession.watch_seconds).where(
                    ViewerSession.stream_id == stream.id
                )
            ).all()
        )
        assert watched == {
            people["closer"].id: 60,
            people["silent"].id: 40,  # left at the sweep's cutoff, t0 + 50
            people["stayer"].id: 90 + timeout,
        }
        assert stream.total_views == 3 and stream.unique_viewers == 3
        assert stream.average_watch_seconds == round((60 + 40 + 90 + timeout) / 3)
        db.session.rollback()


def _place(api, session, latitude, longitude):
    changed = api.patch(
        "/api/v1/me",
        json={"latitude": latitude, "longitude": longitude},
        headers=api.auth(session),
    )
    assert changed.status_code == 200


def _live_with(api, username, title, position, place=None):
    session = api.register(username)
    if place:
        _place(api, session, *place)
    api.post(LIVE, json={"position": position, "title": title}, headers=api.auth(session))
    return session


def _usernames(response):
    return [item["streamer"]["username"] for item in response.get_json()["items"]]


def test_search_by_name_prefix_title_and_place_nearest_first(api, main_room):
    tag = uuid.uuid4().hex[:6]
    paris = _live_with(api, f"pa_{tag}", "Jazz night in Paris", 1, (48.8566, 2.3522))
    versailles = _live_with(api, f"ve_{tag}", "Palace tour", 2, (48.8049, 2.1204))
    london = _live_with(api, f"lo_{tag}", "Rainy jazz", 3, (51.5074, -0.1278))
    _live_with(api, f"nowhere_{tag}", "Cooking", 4)

    assert _usernames(api.get("/api/v1/streams", query_string={"q": f"PA_{tag}"})) == [
        paris["user"]["username"]
    ]
    jazz = _usernames(api.get("/api/v1/streams", query_string={"q": "jazz"}))
    assert set(jazz) >= {paris["user"]["username"], london["user"]["username"]}
    assert versailles["user"]["username"] not in jazz

    near_paris = {"lat": 48.85, "lng": 2.35, "radius_km": 30}
    found = api.get("/api/v1/streams", query_string=near_paris).get_json()["items"]
    assert [f["streamer"]["username"] for f in found] == [
        paris["user"]["username"],
        versailles["user"]["username"],
    ]
    assert found[0]["distance_km"] < 1 and 15 < found[1]["distance_km"] < 20

    wide = {"lat": 48.85, "lng": 2.35, "radius_km": 400, "limit": 1}
    pages, cursor = [], None
    while True:
        body = api.get(
            "/api/v1/streams", query_string={**wide, **({"cursor": cursor} if cursor else {})}
        ).get_json()
        pages += [item["streamer"]["username"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == [u["user"]["username"] for u in (paris, versailles, london)]

    partial = api.get("/api/v1/streams", query_string={"lat": 48.85, "lng": 2.35})
    assert partial.status_code == 422
    assert api.get("/api/v1/streams", query_string={"status": "gone"}).status_code == 422


def test_ended_streams_and_a_profiles_streams(api, app, main_room):
    streamer = api.register()
    for _ in range(2):
        api.post(LIVE, json={}, headers=api.auth(streamer))
        api.delete(LIVE, headers=api.auth(streamer))
    api.post(LIVE, json={"title": "third time"}, headers=api.auth(streamer))
    name = streamer["user"]["username"]

    mine = api.get(f"/api/v1/profiles/{name}/streams", query_string={"limit": 2}).get_json()
    assert [s["status"] for s in mine["items"]] == ["live", "ended"]
    assert mine["items"][0]["title"] == "third time"
    rest = api.get(
        f"/api/v1/profiles/{name}/streams", query_string={"cursor": mine["next_cursor"]}
    ).get_json()
    assert [s["status"] for s in rest["items"]] == ["ended"] and rest["next_cursor"] is None

    ended = api.get("/api/v1/streams", query_string={"status": "ended", "q": name}).get_json()
    assert len(ended["items"]) == 2
    assert api.get("/api/v1/profiles/nobody_here_at_all/streams").status_code == 404
    assert api.get(f"/api/v1/streams/{uuid.uuid4()}").status_code == 404


def _guest(api) -> dict:
    response = api.post("/api/v1/auth/guest")
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"]["role"] == "guest" and "refresh_token" not in body
    return body


def test_guests_watch_only_where_the_room_allows_it_and_do_nothing_else(
    api, app, main_room, moderator
):
    streamer = api.register()
    api.post(LIVE, json={"position": 6}, headers=api.auth(streamer))
    guest = _guest(api)
    refused = api.post(_box(6), headers=api.auth(guest))
    assert refused.status_code == 403 and "account" in refused.get_json()["message"]

    allowed = api.put(
        "/api/v1/rooms/main/settings",
        json={"anonymous_viewing": True},
        headers=api.auth(moderator),
    )
    assert allowed.status_code == 200 and allowed.get_json()["anonymous_viewing"] is True
    watching_ok = api.post(_box(6), headers=api.auth(guest))
    assert watching_ok.status_code == 200
    assert watching_ok.get_json()["credentials"]["role"] == "subscriber"
    beat = api.post(
        "/api/v1/rooms/main/heartbeat", json={"positions": [6]}, headers=api.auth(guest)
    )
    assert beat.get_json()["boxes"] == [{"position": 6, "refreshed": True}]

    for method, path, body in (
        ("post", "/api/v1/rooms/main/chat", {"body": "hi"}),
        ("post", LIVE, {}),
        ("post", f"/api/v1/profiles/{streamer['user']['username']}/follow", None),
        ("get", "/api/v1/me", None),
    ):
        answer = getattr(api, method)(path, json=body, headers=api.auth(guest))
        assert answer.status_code == 403, path
    gift = send_gift(api, guest, "Rose", 1, room="main", position=6)
    assert gift.status_code == 403

    api.delete(_box(6), headers=api.auth(guest))
    api.delete(LIVE, headers=api.auth(streamer))
    stream_id = _stream_id(app, streamer)
    stats = api.get(f"/api/v1/streams/{stream_id}").get_json()["stats"]
    assert (stats["total_views"], stats["unique_viewers"]) == (1, 1)


def test_old_guests_are_purged_and_their_sessions_stay_anonymous(api, app, main_room):
    from mylivelinks.jobs.maintenance import GUEST_RETENTION, purge_old_guests

    streamer, guest = api.register(), _guest(api)
    with app.app_context():
        room = get_room("main", lock=True)
        room.anonymous_viewing = True
        people = [db.session.get(Profile, uuid.UUID(s["user"]["id"])) for s in (streamer, guest)]
        now = datetime.now(UTC)
        stream = live.go_live(room, people[0], title=None, position=9, now=now).stream
        watching.open_box(room, 9, people[1], now)
        watching.close_box(room, 9, people[1], now + timedelta(seconds=30))
        assert purge_old_guests() == 0  # too young
        people[1].created_at = now - GUEST_RETENTION - timedelta(minutes=1)
        db.session.flush()
        assert purge_old_guests() == 1
        assert db.session.get(Profile, people[1].id) is None
        session = db.session.scalar(
            select(ViewerSession).where(ViewerSession.stream_id == stream.id)
        )
        assert session.viewer_id is None and session.watch_seconds == 30
        db.session.rollback()


def _schedule(api, session, title, minutes_ahead):
    at = datetime.now(UTC) + timedelta(minutes=minutes_ahead)
    response = api.post(
        "/api/v1/me/schedules",
        json={
            "kind": "once",
            "date": at.date().isoformat(),
            "local_time": at.strftime("%H:%M"),
            "timezone": "UTC",
            "title": title,
        },
        headers=api.auth(session),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_scheduled_streams_are_the_occurrences_not_started_yet(api, main_room):
    tag = uuid.uuid4().hex[:6]
    near_paris, far, starting = (api.register(f"{p}_{tag}") for p in ("np", "far", "go"))
    _place(api, near_paris, 48.86, 2.34)
    _place(api, far, 40.71, -74.0)
    first = _schedule(api, near_paris, f"Jazz {tag}", 120)
    second = _schedule(api, far, f"Blues {tag}", 60)
    _schedule(api, starting, f"Jazz {tag} early", 10)
    api.post(LIVE, json={}, headers=api.auth(starting))  # keeps its occurrence: no longer scheduled

    def search(**query):
        body = api.get("/api/v1/streams", query_string={"status": "scheduled", **query})
        assert body.status_code == 200, body.get_json()
        return body.get_json()["items"]

    found = search(q=tag)
    assert [item["schedule_id"] for item in found] == [second, first]  # soonest first
    assert found[0]["status"] == "scheduled" and found[0]["id"] is None
    assert found[0]["scheduled_for"] and found[0]["title"] == f"Blues {tag}"
    assert [item["schedule_id"] for item in search(q="jazz " + tag)] == [first]
    nearby = search(q=tag, lat=48.85, lng=2.35, radius_km=50)
    assert [item["schedule_id"] for item in nearby] == [first]
    assert nearby[0]["distance_km"] < 5
