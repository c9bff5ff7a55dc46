"""Follow/unfollow, follow lists and exact counts under concurrency."""

from __future__ import annotations

import pytest

from mylivelinks.extensions import db
from mylivelinks.models import Profile
from mylivelinks.services.accounts.passwords import hash_password
from mylivelinks.services.accounts.tokens import mint_access_token
from tests.helpers import run_concurrently


def follow_path(username: str) -> str:
    return f"/api/v1/profiles/{username}/follow"


def test_follow_is_idempotent_and_counts_once(api):
    star, fan = api.register("star_1"), api.register("fan_1")
    for _ in range(2):
        response = api.post(follow_path("STAR_1"), headers=api.auth(fan))
        assert response.status_code == 200
        assert response.get_json() == {"following": True, "follower_count": 1}
    assert api.get("/api/v1/profiles/star_1").get_json()["follower_count"] == 1
    assert api.get("/api/v1/profiles/fan_1").get_json()["following_count"] == 1
    for _ in range(2):
        response = api.delete(follow_path("star_1"), headers=api.auth(fan))
        assert response.get_json() == {"following": False, "follower_count": 0}
    assert api.get("/api/v1/profiles/fan_1").get_json()["following_count"] == 0
    assert star["user"]["username"] == "star_1"


def test_the_follow_state_says_whether_the_caller_follows(api):
    star, fan, other = api.register("star_3"), api.register("fan_3"), api.register("fan_4")
    assert api.get(follow_path("star_3")).status_code == 401
    assert api.get(follow_path("nobody_x"), headers=api.auth(fan)).status_code == 404
    state = api.get(follow_path("star_3"), headers=api.auth(fan)).get_json()
    assert state == {"following": False, "follower_count": 0}
    api.post(follow_path("star_3"), headers=api.auth(fan))
    assert api.get(follow_path("STAR_3"), headers=api.auth(fan)).get_json() == {
        "following": True,
        "follower_count": 1,
    }
    assert api.get(follow_path("star_3"), headers=api.auth(other)).get_json() == {
        "following": False,
        "follower_count": 1,
    }
    assert api.get(follow_path("star_3"), headers=api.auth(star)).get_json()["following"] is False


def test_following_yourself_is_refused(api):
    me = api.register("solo_1")
    response = api.post(follow_path("solo_1"), headers=api.auth(me))
    assert response.status_code == 422
    assert api.get("/api/v1/profiles/solo_1").get_json()["follower_count"] == 0


def test_following_needs_auth_and_an_existing_profile(api):
    fan = api.register()
    assert api.post(follow_path("nobody_x")).status_code == 401
    assert api.post(follow_path("nobody_x"), headers=api.auth(fan)).status_code == 404


def test_follower_and_following_lists_paginate_newest_first(api):
    star = api.register("star_2")
    fans = [api.register(f"fan_2_{i}") for i in range(5)]
    for fan in fans:
        api.post(follow_path("star_2"), headers=api.auth(fan))
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/profiles/star_2/followers", query_string=query).get_json()
        assert len(page["items"]) <= 2
        seen += [item["profile"]["username"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"fan_2_{i}" for i in reversed(range(5))]
    following = api.get("/api/v1/profiles/fan_2_0/following").get_json()
    assert [item["profile"]["username"] for item in following["items"]] == ["star_2"]
    assert following["next_cursor"] is None
    assert star["user"]["id"] == following["items"][0]["profile"]["id"]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"cursor": "garbage!"}])
def test_bad_page_arguments_are_422(api, query):
    api.register("star_3")
    response = api.get("/api/v1/profiles/star_3/followers", query_string=query)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors and set(errors) <= {"limit", "cursor"}


@pytest.mark.real_session
def test_counts_stay_exact_when_100_users_follow_concurrently(app):
    password_hash = hash_password("password1")
    with app.app_context():
        fans = [
            Profile(
                username=f"crowd_{i}", email=f"crowd_{i}@example.com", password_hash=password_hash
            )
            for i in range(100)
        ]
        star = Profile(
            username="crowd_star", email="crowd_star@example.com", password_hash=password_hash
        )
        db.session.add_all([*fans, star])
        db.session.commit()
        tokens = [mint_access_token(fan)[0] for fan in fans]

    def calls(method: str, token_indexes: list[int]):
        def one(client, n):
            headers = {"Authorization": f"Bearer {tokens[token_indexes[n]]}"}
            return getattr(client, method)(follow_path("crowd_star"), headers=headers)

        return run_concurrently(app, len(token_indexes), one)

    def counts():
        with app.app_context():
            star_row = db.session.scalar(db.select(Profile).filter_by(username="crowd_star"))
            followings = db.session.scalars(
                db.select(Profile.following_count).where(
                    Profile.username.like("crowd\\_%"), Profile.username != "crowd_star"
                )
            ).all()
            return star_row.follower_count, sorted(set(followings))

    # Every fan at once, 30 of them twice: one follow each, counted once.
    assert calls("post", list(range(100)) + list(range(30))) == [200] * 130
    assert counts() == (100, [1])
    assert calls("delete", list(range(40)) * 2) == [200] * 80
    assert counts() == (60, [0, 1])
