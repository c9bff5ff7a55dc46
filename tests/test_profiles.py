"""Own profile, links, public profiles."""

from __future__ import annotations

import pytest

from tests.helpers import run_concurrently

ME = "/api/v1/me"
LINKS = "/api/v1/me/links"


def test_patch_me_changes_only_the_fields_sent(api):
    session = api.register("dana_1")
    response = api.patch(
        ME,
        json={
            "display_name": "Dana",
            "bio": "hello",
            "latitude": 48.85,
            "longitude": 2.35,
            "timezone": "Europe/Paris",
            "avatar_url": "https://img.example.com/d.png",
        },
        headers=api.auth(session),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["display_name"], body["bio"], body["timezone"]) == (
        "Dana",
        "hello",
        "Europe/Paris",
    )
    assert (body["latitude"], body["longitude"]) == (48.85, 2.35)
    again = api.patch(ME, json={"bio": None}, headers=api.auth(session)).get_json()
    assert again["bio"] is None and again["display_name"] == "Dana"
    assert api.get(ME, headers=api.auth(session)).get_json()["timezone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "x" * 51}, "display_name"),
        ({"bio": "x" * 501}, "bio"),
        ({"avatar_url": "ftp://example.com/a.png"}, "avatar_url"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"latitude": 10}, "latitude"),
        ({"latitude": None, "longitude": 5}, "latitude"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"username": "renamed"}, "username"),
        ({"role": "admin"}, "role"),
    ],
)
def test_invalid_patch_is_422_and_changes_nothing(api, body, field):
    session = api.register()
    response = api.patch(ME, json={"display_name": "Changed", **body}, headers=api.auth(session))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    me = api.get(ME, headers=api.auth(session)).get_json()
    assert me["display_name"] == session["user"]["display_name"]
    assert me["role"] == "user"


def test_links_are_replaced_whole_and_kept_in_order(api):
    session = api.register("eve_1")
    first = [{"title": f"Link {i}", "url": f"https://example.com/{i}"} for i in range(3)]
    response = api.put(LINKS, json={"links": first}, headers=api.auth(session))
    assert response.status_code == 200
    assert response.get_json()["links"] == first
    second = [{"title": "Only", "url": "http://only.example.com"}]
    assert api.put(LINKS, json={"links": second}, headers=api.auth(session)).status_code == 200
    assert api.get(LINKS, headers=api.auth(session)).get_json()["links"] == second
    assert api.get("/api/v1/profiles/eve_1").get_json()["links"] == second
    assert api.put(LINKS, json={"links": []}, headers=api.auth(session)).status_code == 200
    assert api.get(LINKS, headers=api.auth(session)).get_json()["links"] == []


@pytest.mark.parametrize(
    "links",
    [
        [{"title": f"L{i}", "url": f"https://example.com/{i}"} for i in range(21)],
        [{"title": "ok", "url": "https://example.com"}, {"title": "bad", "url": "ftp://x.org"}],
        [{"title": "bad", "url": "javascript:alert(1)"}],
        [{"title": "", "url": "https://example.com"}],
        [{"url": "https://example.com"}],
    ],
)
def test_bad_links_are_422_and_keep_the_old_list(api, links):
    session = api.register()
    kept = [{"title": "Kept", "url": "https://kept.example.com"}]
    api.put(LINKS, json={"links": kept}, headers=api.auth(session))
    response = api.put(LINKS, json={"links": links}, headers=api.auth(session))
    assert response.status_code == 422
    assert any(key.startswith("links") for key in response.get_json()["errors"])
    assert api.get(LINKS, headers=api.auth(session)).get_json()["links"] == kept


def test_twenty_links_are_allowed(api):
    session = api.register()
    links = [{"title": f"L{i}", "url": f"https://example.com/{i}"} for i in range(20)]
    assert api.put(LINKS, json={"links": links}, headers=api.auth(session)).status_code == 200


def test_public_profile_is_case_insensitive_and_hides_private_fields(api):
    session = api.register("frank_1")
    api.patch(ME, json={"latitude": 1.0, "longitude": 2.0}, headers=api.auth(session))
    response = api.get("/api/v1/profiles/FRANK_1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["username"] == "frank_1"
    assert body["follower_count"] == 0 and body["following_count"] == 0
    assert body["gifts_received_coins"] == 0 and body["gifts_sent_coins"] == 0
    for private in ("email", "role", "latitude", "longitude", "password_hash"):
        assert private not in body


def test_public_profile_shows_whether_and_where_the_streamer_is_live(api, main_room):
    session = api.register()
    path = f"/api/v1/profiles/{session['user']['username']}"
    offline = api.get(path).get_json()
    assert (offline["is_live"], offline["live"]) == (False, None)
    seated = api.post(
        "/api/v1/rooms/main/live", json={"title": "hi", "position": 4}, headers=api.auth(session)
    ).get_json()
    live = api.get(path).get_json()
    assert live["is_live"] is True
    assert live["live"] == {
        "stream_id": seated["stream"]["id"],
        "room": "main",
        "position": 4,
        "title": "hi",
        "started_at": seated["stream"]["started_at"],
    }
    api.delete("/api/v1/rooms/main/live", headers=api.auth(session))
    assert api.get(path).get_json()["is_live"] is False


def test_unknown_profile_is_404_in_the_envelope(api):
    response = api.get("/api/v1/profiles/nobody_at_all")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404 and response.get_json()["message"]


def test_private_endpoints_require_a_token(api):
    for method, path in (("get", ME), ("patch", ME), ("get", LINKS), ("put", LINKS)):
        assert getattr(api, method)(path, json={}).status_code == 401, path


@pytest.mark.real_session
def test_concurrent_link_replacements_all_succeed_and_one_list_wins(app):
    client = app.test_client()
    session = client.post(
        "/api/v1/auth/register",
        json={"username": "linker", "email": "linker@example.com", "password": "password1"},
    ).get_json()
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    lists = [
        [{"title": f"set {n} link {i}", "url": f"https://example.com/{n}/{i}"} for i in range(5)]
        for n in range(10)
    ]
    statuses = run_concurrently(
        app, len(lists), lambda own, n: own.put(LINKS, json={"links": lists[n]}, headers=headers)
    )
    assert statuses == [200] * len(lists)
    final = client.get(LINKS, headers=headers).get_json()["links"]
    assert final in lists
