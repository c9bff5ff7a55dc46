"""Input at its edges: text PostgreSQL cannot store, integers past their columns, JSON the
parser gives up on, bodies past the size limit. Each is a 4xx in the envelope, never 500."""

from __future__ import annotations

import json

import pytest

from tests.helpers import staff
from tests.test_plumbing import assert_envelope

NUL, SURROGATE = "a\x00b", "a\ud800b"


def post_raw(api, path: str, raw: str, headers: dict | None = None):
    """POST a JSON text as written (json.dumps would keep a surrogate escaped all the same)."""
    return api.post(path, data=raw, content_type="application/json", headers=headers or {})


@pytest.mark.parametrize("text", [NUL, SURROGATE])
def test_unstorable_text_in_a_body_is_422_naming_the_field(api, text):
    raw = json.dumps({"login": text, "password": "whatever"})  # \u0000 / \ud800 escapes
    body = assert_envelope(post_raw(api, "/api/v1/auth/login", raw), 422)
    assert list(body["errors"]) == ["login"]


def test_unstorable_text_deep_in_a_body_names_its_path(api, main_room, moderator):
    raw = json.dumps({"blocked_terms": ["fine", SURROGATE], "slow_mode_seconds": 0})
    response = api.put(
        "/api/v1/rooms/main/settings",
        data=raw,
        content_type="application/json",
        headers=api.auth(moderator),
    )
    assert list(assert_envelope(response, 422)["errors"]) == ["blocked_terms.1"]


def test_unstorable_text_in_every_kind_of_body(api, main_room, app):
    user = api.register()
    admin = staff(api, app, "admin")
    cases = [
        ("post", "/api/v1/rooms/main/chat", user, {"body": SURROGATE}, "body"),
        ("patch", "/api/v1/me", user, {"bio": NUL}, "bio"),
        ("patch", "/api/v1/me", user, {"display_name": SURROGATE}, "display_name"),
        ("post", "/api/v1/rooms/main/live", user, {"title": NUL}, "title"),
        ("post", "/api/v1/gifts", user, {"gift_type_id": "x", "recipient": NUL}, "recipient"),
        (
            "post",
            "/api/v1/admin/adjustments",
            admin,
            {"username": NUL, "coins": 5, "reason": "bonus"},
            "username",
        ),
    ]
    for method, path, session, payload, field in cases:
        response = getattr(api, method)(
            path,
            data=json.dumps(payload),
            content_type="application/json",
            headers=api.auth(session),
        )
        assert field in assert_envelope(response, 422)["errors"], (path, response.get_json())


def test_unstorable_text_in_a_query_string_is_422(api):
    response = api.get("/api/v1/streams?q=a%00b")
    assert list(assert_envelope(response, 422)["errors"]) == ["q"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/profiles/a%00b",
        "/api/v1/rooms/a%00b",
        "/api/v1/rooms/a%00b/chat",
        "/api/v1/leaderboards/a%00b",
        "/api/v1/profiles/no-such-name!",
    ],
)
def test_a_path_that_cannot_name_anything_is_404(api, path):
    assert_envelope(api.get(path), 404)


def test_integer_path_past_32_bits_is_404(api, main_room):
    viewer = api.register()
    for method in ("post", "delete"):
        response = getattr(api, method)(
            "/api/v1/rooms/main/boxes/2147483648/viewers", headers=api.auth(viewer)
        )
        assert_envelope(response, 404)


def test_json_nested_too_deep_is_400(api):
    raw = "[" * 1000 + "]" * 1000
    body = assert_envelope(post_raw(api, "/api/v1/auth/login", raw), 400)
    assert "nested" in body["message"]


def test_json_nested_below_the_interpreter_limit_is_400_too(api):
    raw = '{"login": ' + "[" * 100 + "]" * 100 + ', "password": "x"}'
    assert_envelope(post_raw(api, "/api/v1/auth/login", raw), 400)


def test_integer_literal_past_the_interpreters_digits_is_400(api):
    raw = '{"login": "a", "password": ' + "9" * 5000 + "}"
    body = assert_envelope(post_raw(api, "/api/v1/auth/login", raw), 400)
    assert "number" in body["message"]


def test_malformed_json_under_an_idempotency_key_is_400(api, app):
    admin = staff(api, app, "admin")
    headers = {**api.auth(admin), "Idempotency-Key": "k-1"}
    raw = "[" * 1000 + "]" * 1000
    assert_envelope(post_raw(api, "/api/v1/admin/adjustments", raw, headers), 400)


def test_bad_idempotency_key_is_reported_under_the_header(api, app):
    admin = staff(api, app, "admin")
    body = {"username": admin["user"]["username"], "coins": 5, "reason": "bonus"}
    for key in ("x" * 256, "a\x00b"):
        response = api.post(
            "/api/v1/admin/adjustments",
            json=body,
            headers={**api.auth(admin), "Idempotency-Key": key},
        )
        assert list(assert_envelope(response, 422)["errors"]) == ["Idempotency-Key"]


def test_integers_past_their_column_are_422(api, main_room, app):
    streamer, admin = api.register(), staff(api, app, "admin")
    response = api.post(
        "/api/v1/rooms/main/live", json={"position": 2**31}, headers=api.auth(streamer)
    )
    assert list(assert_envelope(response, 422)["errors"]) == ["position"]
    catalog = api.get("/api/v1/admin/gift-types", headers=api.auth(admin)).get_json()["items"]
    edited = [
        {key: item[key] for key in ("id", "name", "emoji", "coin_cost", "animation", "rarity")}
        for item in catalog
    ]
    edited[0]["sort_order"] = 2**31
    response = api.put("/api/v1/admin/gift-types", json={"items": edited}, headers=api.auth(admin))
    assert list(assert_envelope(response, 422)["errors"]) == ["items.0.sort_order"]
    edited[0]["sort_order"] = 2**31 - 1
    assert (
        api.put(
            "/api/v1/admin/gift-types", json={"items": edited}, headers=api.auth(admin)
        ).status_code
        == 200
    )


def test_a_body_past_the_limit_is_413_before_it_is_read(api, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    raw = json.dumps({"login": "x" * limit, "password": "whatever"})
    body = assert_envelope(post_raw(api, "/api/v1/auth/login", raw), 413)
    assert "errors" not in body
    fits = json.dumps({"login": "x" * 100, "password": "whatever"})
    assert post_raw(api, "/api/v1/auth/login", fits).status_code == 401


def test_the_body_limit_follows_configuration(server_urls):
    from mylivelinks import create_app
    from tests.conftest import make_config

    small = create_app(make_config(server_urls, MAX_CONTENT_LENGTH="64")).test_client()
    raw = json.dumps({"login": "x" * 64, "password": "whatever"})
    assert_envelope(post_raw(small, "/api/v1/auth/login", raw), 413)


def test_a_body_documented_as_optional_may_be_left_out(api, main_room):
    streamer = api.register()
    live = api.post("/api/v1/rooms/main/live", headers=api.auth(streamer))
    assert live.status_code == 201, live.get_json()
    beat = api.post("/api/v1/rooms/main/heartbeat", headers=api.auth(streamer))
    assert beat.status_code == 200, beat.get_json()
    assert api.patch("/api/v1/me", headers=api.auth(streamer)).status_code == 200
