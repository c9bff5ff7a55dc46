"""Room chat: posting and history, moderation (delete, timeouts, bans, blocked terms, slow
mode), reports, system lines, and rate limits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mylivelinks.events.streams import current_last_id, read_events, room_stream_key
from mylivelinks.extensions import db
from mylivelinks.models import Profile
from mylivelinks.services.chat import messages
from mylivelinks.services.errors import Forbidden
from mylivelinks.services.rooms.state import get_room
from tests.money import grant, send_gift

CHAT = "/api/v1/rooms/main/chat"


def say(api, session, body):
    return api.post(CHAT, json={"body": body}, headers=api.auth(session))


def bodies(api, **query):
    return [m["body"] for m in api.get(CHAT, query_string=query).get_json()["items"]]


def test_messages_are_trimmed_and_listed_newest_first_with_a_cursor(api, app, main_room):
    author = api.register()
    posted = say(api, author, "  hello room  ")
    assert posted.status_code == 201
    message = posted.get_json()
    assert (message["body"], message["kind"]) == ("hello room", "user")
    assert message["author"]["id"] == author["user"]["id"]
    for n in range(3):
        say(api, author, f"line {n}")
    page = api.get(CHAT, query_string={"limit": 2}).get_json()
    assert [m["body"] for m in page["items"]] == ["line 2", "line 1"]
    rest = api.get(CHAT, query_string={"limit": 5, "cursor": page["next_cursor"]}).get_json()
    assert [m["body"] for m in rest["items"]] == ["line 0", "hello room"]
    with app.app_context():
        events = read_events(room_stream_key("main"), "0-0", None)
    assert [e.data["body"] for e in events if e.type == "chat:message"] == [
        "hello room",
        "line 0",
        "line 1",
        "line 2",
    ]


@pytest.mark.parametrize("body", ["", "   ", "x" * 501])
def test_empty_or_too_long_messages_are_422(api, main_room, body):
    assert say(api, api.register(), body).status_code == 422
    assert bodies(api) == []


def test_unknown_rooms_and_anonymous_posts_are_refused(api, main_room):
    assert (
        api.post(
            "/api/v1/rooms/nowhere/chat", json={"body": "x"}, headers=api.auth(api.register())
        ).status_code
        == 404
    )
    assert api.post(CHAT, json={"body": "x"}).status_code == 401


def test_authors_and_moderators_delete_others_cannot(api, app, main_room, moderator):
    author, stranger = api.register(), api.register()
    first = say(api, author, "first").get_json()["id"]
    second = say(api, author, "second").get_json()["id"]
    assert api.delete(f"{CHAT}/{first}", headers=api.auth(stranger)).status_code == 403
    assert api.delete(f"{CHAT}/{first}", headers=api.auth(author)).status_code == 204
    assert api.delete(f"{CHAT}/{second}", headers=api.auth(moderator)).status_code == 204
    assert api.delete(f"{CHAT}/{second}", headers=api.auth(moderator)).status_code == 404
    assert bodies(api) == []
    with app.app_context():
        events = read_events(room_stream_key("main"), "0-0", None)
    assert [e.data["id"] for e in events if e.type == "chat:deleted"] == [first, second]


def test_a_timed_out_user_is_refused_until_the_time_passes(api, app, main_room, moderator):
    user = api.register()
    api.post(
        "/api/v1/rooms/main/bans",
        json={"username": user["user"]["username"], "duration_seconds": 60, "reason": "cool down"},
        headers=api.auth(moderator),
    )
    refused = say(api, user, "let me talk")
    assert refused.status_code == 403 and "timed out" in refused.get_json()["message"]
    with app.app_context():
        author = db.session.get(Profile, uuid.UUID(user["user"]["id"]))
        soon = datetime.now(UTC) + timedelta(seconds=59)
        with pytest.raises(Forbidden):
            messages.post_message(get_room("main"), author, "still?", soon)
        later = datetime.now(UTC) + timedelta(seconds=61)
        assert messages.post_message(get_room("main"), author, "back", later).body == "back"
        db.session.rollback()


def test_a_banned_user_cannot_chat(api, main_room, moderator):
    user = api.register()
    api.post(
        "/api/v1/rooms/main/bans",
        json={"username": user["user"]["username"], "reason": "spam"},
        headers=api.auth(moderator),
    )
    assert say(api, user, "hello").status_code == 403


def test_blocked_terms_are_refused_in_any_case_as_whole_words(api, main_room, moderator):
    user = api.register()
    settings = api.put(
        "/api/v1/rooms/main/settings",
        json={"blocked_terms": ["Spoon", "bad word"]},
        headers=api.auth(moderator),
    )
    assert settings.status_code == 200
    assert settings.get_json()["blocked_terms"] == ["bad word", "spoon"]
    refused = say(api, user, "I like SPOON.")
    assert refused.status_code == 422
    assert "spoon" not in refused.get_json()["message"].lower()
    assert say(api, user, "what a BAD Word").status_code == 422
    assert say(api, user, "teaspoons are fine").status_code == 201
    assert (
        api.put(
            "/api/v1/rooms/main/settings", json={"slow_mode_seconds": 5}, headers=api.auth(user)
        ).status_code
        == 403
    )


def test_settings_are_read_patched_in_part_and_replaced_whole_by_put(api, main_room, moderator):
    path, user = "/api/v1/rooms/main/settings", api.register()
    first = {"blocked_terms": ["spamword"], "anonymous_viewing": True}
    assert api.put(path, json=first, headers=api.auth(moderator)).status_code == 200
    patched = api.patch(path, json={"slow_mode_seconds": 1}, headers=api.auth(moderator))
    assert patched.status_code == 200
    expected = {"slow_mode_seconds": 1, "blocked_terms": ["spamword"], "anonymous_viewing": True}
    assert patched.get_json() == expected
    assert api.get(path, headers=api.auth(moderator)).get_json() == expected
    assert say(api, user, "spamword here").status_code == 422
    room = api.get("/api/v1/rooms/main").get_json()
    assert (room["slow_mode_seconds"], room["anonymous_viewing"]) == (1, True)
    replaced = api.put(path, json={"slow_mode_seconds": 2}, headers=api.auth(moderator))
    assert replaced.get_json() == {
        "slow_mode_seconds": 2,
        "blocked_terms": [],
        "anonymous_viewing": False,
    }
    assert (
        api.patch(path, json={}, headers=api.auth(moderator)).get_json()["slow_mode_seconds"] == 2
    )
    bad = api.patch(path, json={"slow_mode_seconds": -1}, headers=api.auth(moderator))
    assert bad.status_code == 422 and "slow_mode_seconds" in bad.get_json()["errors"]
    assert api.get(path, headers=api.auth(user)).status_code == 403
    assert api.patch(path, json={}, headers=api.auth(user)).status_code == 403
    assert api.get(path).status_code == 401
    assert api.get("/api/v1/rooms/nowhere/settings", headers=api.auth(moderator)).status_code == 404


def test_slow_mode_spaces_one_users_messages_but_not_a_moderators(api, main_room, moderator):
    user = api.register()
    api.put(
        "/api/v1/rooms/main/settings", json={"slow_mode_seconds": 30}, headers=api.auth(moderator)
    )
    assert say(api, user, "one").status_code == 201
    slowed = say(api, user, "two")
    assert slowed.status_code == 429
    assert 1 <= int(slowed.headers["Retry-After"]) <= 30
    assert [say(api, moderator, f"mod {n}").status_code for n in range(3)] == [201] * 3


def test_the_21st_message_in_30_seconds_is_429_with_retry_after(api, main_room, moderator):
    user = api.register()
    assert [say(api, user, f"m{n}").status_code for n in range(20)] == [201] * 20
    limited = say(api, user, "one too many")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["code"] == 429
    assert [say(api, moderator, f"mod {n}").status_code for n in range(25)] == [201] * 25


def test_reports_name_an_existing_message_or_user(api, main_room):
    reporter, author = api.register(), api.register()
    message = say(api, author, "rude").get_json()["id"]
    filed = api.post(
        "/api/v1/reports",
        json={"target_type": "message", "target_id": message, "reason": "rude"},
        headers=api.auth(reporter),
    )
    assert filed.status_code == 201 and filed.get_json()["status"] == "open"
    user = api.post(
        "/api/v1/reports",
        json={"target_type": "user", "target_id": author["user"]["id"], "reason": "spam"},
        headers=api.auth(reporter),
    )
    assert user.status_code == 201
    missing = api.post(
        "/api/v1/reports",
        json={"target_type": "message", "target_id": str(uuid.uuid4()), "reason": "x"},
        headers=api.auth(reporter),
    )
    assert missing.status_code == 404
    myself = api.post(
        "/api/v1/reports",
        json={"target_type": "user", "target_id": reporter["user"]["id"], "reason": "x"},
        headers=api.auth(reporter),
    )
    assert myself.status_code == 422
    assert (
        api.post(
            "/api/v1/reports",
            json={"target_type": "room", "target_id": message, "reason": "x"},
            headers=api.auth(reporter),
        ).status_code
        == 422
    )


def test_going_live_and_gifts_write_system_lines(api, app, main_room):
    streamer, fan = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={"position": 3}, headers=api.auth(streamer))
    grant(app, fan, 5)
    send_gift(api, fan, "Rose", 2, room="main", position=3)
    api.delete("/api/v1/rooms/main/live", headers=api.auth(streamer))
    lines = api.get(CHAT).get_json()["items"]
    assert [(m["kind"], m["author"]) for m in lines] == [
        ("system", None),
        ("gift", None),
        ("system", None),
    ]
    name = streamer["user"]["username"]
    assert lines[2]["body"] == f"{name} went live in box 3"
    assert lines[1]["body"] == f"{fan['user']['username']} sent {name} 2 x 🌹 Rose"
    assert lines[0]["body"] == f"{name}'s stream in box 3 ended"


def test_streams_ended_by_jobs_write_and_announce_their_lines(api, app, main_room):
    from mylivelinks.jobs.media import end_stream_if_still_gone
    from mylivelinks.jobs.publishing import sweep_rooms
    from mylivelinks.models import Stream

    silent, gone, waiting = api.register(), api.register(), api.register()
    in_box = {}
    for session, position in ((silent, 4), (gone, 5)):
        api.post("/api/v1/rooms/main/live", json={"position": position}, headers=api.auth(session))
        in_box[position] = session["user"]["username"]
    for position in set(range(1, 13)) - {4, 5}:
        other = api.register()
        api.post("/api/v1/rooms/main/live", json={"position": position}, headers=api.auth(other))
        in_box[position] = other["user"]["username"]
    api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(waiting))  # queued
    with app.app_context():
        gone_stream = db.session.scalar(
            db.select(Stream.id).where(Stream.streamer_id == uuid.UUID(gone["user"]["id"]))
        )
        start = current_last_id(room_stream_key("main"))
        # The vendor says `gone` left and never came back: the media job ends the stream
        # and seats the queued streamer in box 5.
        assert end_stream_if_still_gone(str(gone_stream), datetime.now(UTC)) is True
        announced = read_events(room_stream_key("main"), start, None)
    waiting_name = waiting["user"]["username"]
    lines = [e.data["body"] for e in announced if e.type == "chat:message"]
    assert lines == [f"{in_box[5]}'s stream in box 5 ended", f"{waiting_name} went live in box 5"]
    in_box[5] = waiting_name
    assert bodies(api)[:2] == lines[::-1]

    with app.app_context():
        start = current_last_id(room_stream_key("main"))
        later = datetime.now(UTC) + timedelta(seconds=app.config["STREAMER_TIMEOUT_SECONDS"] + 1)
        ended = sweep_rooms(now=later)["ended_streams"]
        announced = read_events(room_stream_key("main"), start, None)
    lines = [e.data["body"] for e in announced if e.type == "chat:message"]
    assert ended == 12 and len(lines) == 12
    assert set(lines) == {f"{name}'s stream in box {n} ended" for n, name in in_box.items()}


def test_login_attempts_are_rate_limited(api, main_room):
    session = api.register()
    login = {"login": session["user"]["username"], "password": "wrong password"}
    statuses = [api.post("/api/v1/auth/login", json=login).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
