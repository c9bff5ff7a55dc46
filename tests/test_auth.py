"""Accounts: register, login, refresh rotation, logout, and their bad inputs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import delete, func, select

from mylivelinks.extensions import db
from mylivelinks.models import Profile
from mylivelinks.services.accounts.passwords import hash_password
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import unique_username

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"


def test_register_returns_user_and_tokens_that_work(api):
    session = api.register("alice_1")
    assert session["user"]["username"] == "alice_1"
    assert session["user"]["email"] == "alice_1@example.com"
    assert session["user"]["role"] == "user"
    assert "password" not in session["user"] and "password_hash" not in session["user"]
    me = api.get("/api/v1/me", headers=api.auth(session))
    assert me.status_code == 200
    assert me.get_json()["id"] == session["user"]["id"]


def test_passwords_hash_at_the_configured_cost_and_verify_at_any(api, app):
    session = api.register("hash_1", password="s3cret-pass")
    production_cost = hash_password("s3cret-pass")  # no app: the default profile
    assert production_cost.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    with app.app_context():
        profile = db.session.scalar(select(Profile).where(Profile.username == "hash_1"))
        assert profile is not None and profile.id == uuid.UUID(session["user"]["id"])
        # The suite's PASSWORD_HASH_PROFILE (CHEAPEST), still Argon2id with a salt.
        assert profile.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
        profile.password_hash = production_cost
        db.session.commit()
    login = {"login": "hash_1", "password": "s3cret-pass"}
    assert api.post(LOGIN, json=login).status_code == 200
    assert api.post(LOGIN, json={**login, "password": "s3cret-pasS"}).status_code == 401


def test_login_by_username_or_email_case_insensitively(api):
    session = api.register("bob_2", password="s3cret-pass")
    for login in ("bob_2", "BOB_2", "bob_2@example.com", "Bob_2@Example.COM"):
        response = api.post(LOGIN, json={"login": login, "password": "s3cret-pass"})
        assert response.status_code == 200, login
        assert response.get_json()["user"]["id"] == session["user"]["id"]


@pytest.mark.parametrize("login", ["bob_3", "nobody_here"])
def test_wrong_password_or_unknown_user_is_401(api, login):
    api.register("bob_3", password="s3cret-pass")
    response = api.post(LOGIN, json={"login": login, "password": "wrong-password"})
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


def test_refresh_rotates_and_the_used_token_stops_working(api):
    session = api.register()
    first = api.post(REFRESH, json={"refresh_token": session["refresh_token"]})
    assert first.status_code == 200
    pair = first.get_json()
    assert pair["refresh_token"] != session["refresh_token"]
    assert api.get("/api/v1/me", headers=api.bearer(pair["access_token"])).status_code == 200
    newer = api.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert newer.status_code == 200


def test_replaying_a_spent_refresh_token_ends_the_whole_session(api):
    session = api.register()
    successor = api.post(REFRESH, json={"refresh_token": session["refresh_token"]}).get_json()
    other_session = api.post(
        LOGIN, json={"login": session["user"]["username"], "password": session["password"]}
    ).get_json()
    replay = api.post(REFRESH, json={"refresh_token": session["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.get_json()["message"]
    # The revocation stuck although the request failed; other sessions are untouched.
    assert api.post(REFRESH, json={"refresh_token": successor["refresh_token"]}).status_code == 401
    other = api.post(REFRESH, json={"refresh_token": other_session["refresh_token"]})
    assert other.status_code == 200


def test_logout_revokes_the_refresh_token(api):
    session = api.register()
    assert api.post(LOGOUT, json={"refresh_token": session["refresh_token"]}).status_code == 204
    assert api.post(LOGOUT, json={"refresh_token": session["refresh_token"]}).status_code == 204
    assert api.post(REFRESH, json={"refresh_token": session["refresh_token"]}).status_code == 401
    assert api.post(LOGOUT, json={"refresh_token": "never-issued"}).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "email": "a@example.com", "password": "password1"}, "username"),
        ({"username": "has space", "email": "a@example.com", "password": "password1"}, "username"),
        ({"username": "x" * 31, "email": "a@example.com", "password": "password1"}, "username"),
        ({"username": "admin", "email": "a@example.com", "password": "password1"}, "username"),
        ({"username": "API", "email": "a@example.com", "password": "password1"}, "username"),
        ({"username": "main", "email": "a@example.com", "password": "password1"}, "username"),
        ({"username": "Main", "email": "a@example.com", "password": "password1"}, "username"),
        (
            {"username": "guest_0123456789ab", "email": "a@example.com", "password": "password1"},
            "username",
        ),
        ({"username": "system_bot", "email": "a@example.com", "password": "password1"}, "username"),
        ({"username": "me", "email": "a@example.com", "password": "password1"}, "username"),
        ({"username": "good_name", "email": "not-an-email", "password": "password1"}, "email"),
        ({"username": "good_name", "email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "password1"}, "username"),
    ],
)
def test_invalid_registration_is_422_per_field_and_writes_nothing(api, app, body, field):
    before = _profile_count(app)
    response = api.post(REGISTER, json=body)
    assert response.status_code == 422
    payload = response.get_json()
    assert payload["code"] == 422 and payload["status"] == "Unprocessable Entity"
    assert field in payload["errors"]
    assert _profile_count(app) == before


def _profile_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Profile))


def test_taken_username_or_email_is_409_case_insensitively(api):
    api.register("carol_9")
    same_name = api.post(
        REGISTER,
        json={"username": "carol_9", "email": "other@example.com", "password": "password1"},
    )
    assert same_name.status_code == 409
    same_email = api.post(
        REGISTER,
        json={"username": "carol_10", "email": "Carol_9@EXAMPLE.com", "password": "password1"},
    )
    assert same_email.status_code == 409
    assert same_email.get_json()["message"]


def test_a_username_in_capitals_is_stored_lower_case_and_conflicts_in_any_case(api):
    response = api.post(
        REGISTER,
        json={"username": "Alice_X", "email": "alice@example.com", "password": "password1"},
    )
    assert response.status_code == 201, response.get_json()
    user = response.get_json()["user"]
    assert (user["username"], user["display_name"]) == ("alice_x", "Alice_X")
    assert api.get("/api/v1/profiles/ALICE_X").get_json()["username"] == "alice_x"
    again = api.post(
        REGISTER,
        json={"username": "ALICE_X", "email": "other@example.com", "password": "password1"},
    )
    assert again.status_code == 409
    assert again.get_json()["message"] == "This username is taken."
    login = api.post(LOGIN, json={"login": "aLiCe_x", "password": "password1"})
    assert login.status_code == 200


def test_registration_is_rate_limited_per_address(api, app):
    limit = app.config["REGISTER_RATE_LIMIT"]
    allowed = int(limit.split()[0])
    statuses = []
    for _ in range(allowed + 1):
        name = unique_username()
        statuses.append(
            api.post(
                REGISTER,
                json={"username": name, "email": f"{name}@example.com", "password": "password1"},
            )
        )
    assert [r.status_code for r in statuses] == [201] * allowed + [429]
    refused = statuses[-1]
    assert refused.get_json()["code"] == 429 and int(refused.headers["Retry-After"]) >= 1
    other_address = unique_username()
    assert (
        api.post(
            REGISTER,
            json={
                "username": other_address,
                "email": f"{other_address}@example.com",
                "password": "password1",
            },
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        ).status_code
        == 201
    )


def test_a_token_of_a_deleted_profile_is_401_everywhere(api, app):
    session = api.register()
    with app.app_context():
        db.session.execute(delete(Profile).where(Profile.id == session["user"]["id"]))
        db.session.commit()
    for path in ("/api/v1/me", "/api/v1/me/notifications", "/api/v1/me/schedules"):
        response = api.get(path, headers=api.auth(session))
        assert response.status_code == 401, path
    gift = api.post(
        "/api/v1/gifts",
        json={"gift_type_id": str(uuid.uuid4()), "recipient": "nobody_here"},
        headers=api.auth(session),
    )
    assert gift.status_code < 500, gift.get_json()


def test_malformed_json_is_400(api):
    response = api.post(REGISTER, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["code"] == 400


def _token(sub: str, *, key: str = TEST_SECRET_KEY, **overrides) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": "mylivelinks",
        "sub": sub,
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def test_missing_expired_and_tampered_tokens_are_401(api):
    session = api.register()
    user_id = session["user"]["id"]
    missing = api.get("/api/v1/me")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    expired = _token(user_id, exp=datetime.now(UTC) - timedelta(seconds=1))
    assert api.get("/api/v1/me", headers=api.bearer(expired)).status_code == 401
    forged = _token(user_id, key="some-other-secret-some-other-secret")
    assert api.get("/api/v1/me", headers=api.bearer(forged)).status_code == 401
    header, payload, signature = session["access_token"].split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert api.get("/api/v1/me", headers=api.bearer(tampered)).status_code == 401
    assert api.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert api.get("/api/v1/me", headers=api.bearer(_token(user_id))).status_code == 200


def test_a_token_accepted_before_is_refused_once_it_expires(api, monkeypatch):
    from mylivelinks.services.accounts import tokens

    session = api.register()
    token = _token(session["user"]["id"], exp=datetime.now(UTC) + timedelta(minutes=1))
    assert api.get("/api/v1/me", headers=api.bearer(token)).status_code == 200
    later = datetime.now(UTC) + timedelta(minutes=2)
    monkeypatch.setattr(tokens, "_now", lambda: later)
    refused = api.get("/api/v1/me", headers=api.bearer(token))
    assert refused.status_code == 401 and "expired" in refused.get_json()["message"]
    assert api.get("/api/v1/me", headers=api.bearer(token + "x")).status_code == 401


def test_access_token_lifetime_follows_configuration(api, app):
    session = api.register()
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == app.config["ACCESS_TOKEN_TTL_SECONDS"]


def test_unique_username_helper_is_valid():
    assert len(unique_username()) <= 30
