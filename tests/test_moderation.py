"""Room bans and chat timeouts: who may, what a ban blocks and ends, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mylivelinks.services.moderation import actions
from mylivelinks.services.rooms.state import get_room
from tests.helpers import staff

BANS = "/api/v1/rooms/main/bans"

pytestmark = pytest.mark.all_media_providers


def _name(session):
    return session["user"]["username"]


def _ban(api, by, target, **extra):
    body = {"username": _name(target), "reason": "spam", **extra}
    return api.post(BANS, json=body, headers=api.auth(by))


def test_a_banned_user_can_neither_go_live_nor_open_a_box_until_lifted(api, main_room, moderator):
    streamer, banned = api.register(), api.register()
    api.post("/api/v1/rooms/main/live", json={"position": 1}, headers=api.auth(streamer))
    made = _ban(api, moderator, banned)
    assert made.status_code == 201
    assert made.get_json()["kind"] == "ban" and made.get_json()["expires_at"] is None

    refused = api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(banned))
    assert (refused.status_code, refused.get_json()["code"]) == (403, 403)
    watch = api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(banned))
    assert watch.status_code == 403
    room = api.get("/api/v1/rooms/main").get_json()
    assert [b["position"] for b in room["boxes"] if b["stream"]] == [1]  # nothing half-written

    lifted = api.delete(f"{BANS}/{_name(banned)}", headers=api.auth(moderator))
    assert lifted.status_code == 204
    assert api.delete(f"{BANS}/{_name(banned)}", headers=api.auth(moderator)).status_code == 404
    assert api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(banned)).status_code == 201


def test_banning_a_live_streamer_ends_the_stream_seats_the_queue_and_closes_boxes(
    api, app, main_room, moderator
):
    streamers = [api.register() for _ in range(12)]
    for session in streamers:
        assert (
            api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(session)).status_code
            == 201
        )
    waiting = api.register()
    queued = api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(waiting)).get_json()
    assert queued["queued"] is True
    troublemaker = streamers[4]  # box 5, and watching box 1
    assert (
        api.post("/api/v1/rooms/main/boxes/1/viewers", headers=api.auth(troublemaker)).status_code
        == 200
    )

    assert _ban(api, moderator, troublemaker).status_code == 201
    room = api.get("/api/v1/rooms/main").get_json()
    box5 = room["boxes"][4]["stream"]
    assert box5["streamer"]["id"] == waiting["user"]["id"]
    assert room["boxes"][0]["viewer_count"] == 0
    beat = api.post(
        "/api/v1/rooms/main/heartbeat", json={"positions": [1]}, headers=api.auth(troublemaker)
    ).get_json()
    assert beat == {"boxes": [{"position": 1, "refreshed": False}], "streamer": False}


def test_a_timeout_keeps_boxes_open_and_ends_by_itself(api, app, main_room, moderator):
    user = api.register()
    made = _ban(api, moderator, user, duration_seconds=60)
    assert made.get_json()["kind"] == "timeout"
    assert api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(user)).status_code == 201
    listed = api.get(BANS, headers=api.auth(moderator)).get_json()["items"]
    assert [(b["username"], b["kind"]) for b in listed] == [(_name(user), "timeout")]
    with app.app_context():
        later = datetime.now(UTC) + timedelta(seconds=61)
        page = actions.room_bans(get_room("main"), later, limit=20, cursor=None)
        assert page.items == []


@pytest.mark.parametrize(
    "body, status",
    [
        ({"duration_seconds": 0}, 422),
        ({"duration_seconds": 14 * 86400 + 1}, 422),
        ({"duration_seconds": "10"}, 422),
        ({"reason": ""}, 422),
        ({"username": "nobody_at_all"}, 404),
    ],
)
def test_bad_ban_requests_are_refused(api, main_room, moderator, body, status):
    target = api.register()
    payload = {"username": _name(target), "reason": "spam", **body}
    assert api.post(BANS, json=payload, headers=api.auth(moderator)).status_code == status
    assert api.get(BANS, headers=api.auth(moderator)).get_json()["items"] == []


def test_who_may_ban_whom(api, app, main_room, moderator):
    user, other_mod = api.register(), staff(api, app, "moderator")
    admin = staff(api, app, "admin")
    assert _ban(api, user, other_mod).status_code == 403  # users cannot ban
    assert _ban(api, moderator, other_mod).status_code == 403  # staff only by an admin
    assert _ban(api, moderator, moderator).status_code == 422
    assert _ban(api, admin, other_mod).status_code == 201
    assert api.post(BANS, json={"username": _name(user), "reason": "x"}).status_code == 401
    assert (
        api.post(
            "/api/v1/rooms/nowhere/bans",
            json={"username": _name(user), "reason": "x"},
            headers=api.auth(moderator),
        ).status_code
        == 404
    )


def test_admins_read_the_audit_trail_of_moderator_actions(api, app, main_room, moderator):
    admin, user = staff(api, app, "admin"), api.register()
    _ban(api, moderator, user, duration_seconds=30)
    _ban(api, moderator, user)
    api.delete(f"{BANS}/{_name(user)}", headers=api.auth(moderator))
    trail = api.get("/api/v1/admin/moderation-actions?limit=2", headers=api.auth(admin))
    assert trail.status_code == 200
    first = trail.get_json()
    assert [(a["action"], a["moderator"], a["room"], a["target"]) for a in first["items"]] == [
        ("unban", _name(moderator), "main", _name(user)),
        ("ban", _name(moderator), "main", _name(user)),
    ]
    rest = api.get(
        f"/api/v1/admin/moderation-actions?cursor={first['next_cursor']}", headers=api.auth(admin)
    ).get_json()
    assert [(a["action"], a["details"]) for a in rest["items"]] == [
        ("timeout", {"reason": "spam", "duration_seconds": 30})
    ]
    assert (
        api.get("/api/v1/admin/moderation-actions", headers=api.auth(moderator)).status_code == 403
    )
