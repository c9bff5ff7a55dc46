"""Rate limits: counted per user or address and per endpoint, 429 with Retry-After, nothing run."""

from __future__ import annotations

from tests.money import (
    assert_ledger_consistent,
    gift_count,
    grant,
    live_streamer,
    send_gift,
    wallet_of,
)


def test_gifts_past_the_limit_are_429_and_send_nothing(api, app, main_room, monkeypatch):
    monkeypatch.setitem(app.config, "GIFT_RATE_LIMIT", "2 per minute")
    live_streamer(api)
    fan, other_fan = api.register(), api.register()
    grant(app, fan, 10)
    grant(app, other_fan, 10)
    assert [send_gift(api, fan, "Rose", 1, room="main", position=1).status_code for _ in "ab"] == [
        201,
        201,
    ]
    refused = send_gift(api, fan, "Rose", 1, room="main", position=1)
    assert refused.status_code == 429
    assert refused.get_json()["code"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert gift_count(app) == 2 and wallet_of(api, fan)["coin_balance"] == 8
    # Another user has a budget of their own.
    assert send_gift(api, other_fan, "Rose", 1, room="main", position=1).status_code == 201
    assert_ledger_consistent(app)


def test_each_endpoint_counts_on_its_own(api, app, main_room, monkeypatch):
    monkeypatch.setitem(app.config, "GIFT_RATE_LIMIT", "1 per minute")
    live_streamer(api)
    fan = api.register()
    grant(app, fan, 10)
    assert send_gift(api, fan, "Rose", 1, room="main", position=1).status_code == 201
    said = api.post("/api/v1/rooms/main/chat", json={"body": "hi"}, headers=api.auth(fan))
    assert said.status_code == 201


def test_guest_tokens_are_limited_per_client_address(api, monkeypatch, app):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    statuses = [api.post("/api/v1/auth/guest").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
