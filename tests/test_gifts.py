"""Gifts: the catalog, the exact split, bad input, idempotency, concurrency, events."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from mylivelinks.events.streams import read_events, room_stream_key, user_stream_key
from mylivelinks.extensions import db
from mylivelinks.ledger.booking import TransferKind
from mylivelinks.ledger.wallet import take_back_coins
from mylivelinks.models import Gift, Stream
from mylivelinks.services.accounts.users import set_role
from tests.helpers import ApiClient, run_concurrently
from tests.money import (
    GIFTS,
    assert_ledger_consistent,
    gift_count,
    gift_type,
    grant,
    isolation_levels_set,
    live_streamer,
    mode_headers,
    send_gift,
    wallet_of,
)


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(app):
    yield
    assert_ledger_consistent(app)  # conservation, and every cached balance = its entries


def test_the_catalog_lists_the_seeded_gifts_cheapest_first(api, main_room):
    items = api.get(GIFTS).get_json()["items"]
    prices = [(g["name"], g["coin_cost"]) for g in items]
    assert (prices[0], prices[-1]) == (("Rose", 1), ("Mansion", 100))
    assert len(items) == 7 and all(g["emoji"] and g["animation"] for g in items)


@pytest.mark.parametrize(
    "coins, name, quantity",
    [(1, "Rose", 1), (3, "Rose", 3), (7, "Rose", 7), (99, "Rose", 99), (101, "Rose", 101)],
)
def test_the_split_is_exact_in_hundredths_of_a_coin(
    api, app, main_room, gift_mode, coins, name, quantity
):
    streamer, fan = live_streamer(api), api.register()
    grant(app, fan, coins)
    sent = send_gift(api, fan, name, quantity, mode=gift_mode, room="main", position=1)
    assert sent.status_code == 201
    gift = sent.get_json()["gift"]
    assert (
        gift["coins"],
        gift["streamer_share_centicoins"],
        gift["platform_share_centicoins"],
    ) == (
        coins,
        coins * 70,
        coins * 30,
    )
    assert sent.get_json()["wallet"]["coin_balance"] == 0
    assert wallet_of(api, streamer)["earnings_balance_centicoins"] == coins * 70
    assert_ledger_consistent(app)


def test_a_gift_commits_each_statement_unless_it_carries_an_idempotency_key(
    api, app, main_room, gift_mode
):
    live_streamer(api)
    fan = api.register()
    grant(app, fan, 2)
    with isolation_levels_set(app) as levels:
        assert send_gift(api, fan, mode=gift_mode, room="main", position=1).status_code == 201
    assert levels == (["AUTOCOMMIT"] if gift_mode == "autocommit" else [])
    assert gift_count(app) == 1


def test_a_large_gift_and_another_percentage_split_exactly(api, app, main_room):
    admin = api.register()
    with app.app_context():
        set_role(admin["user"]["username"], "admin")
        db.session.commit()
    catalog = api.get("/api/v1/admin/gift-types", headers=api.auth(admin)).get_json()["items"]
    yacht = {
        "name": "Yacht",
        "emoji": "🛥️",
        "coin_cost": 500,
        "animation": "fireworks",
        "rarity": "legendary",
        "sort_order": 99,
    }
    edited = api.put(
        "/api/v1/admin/gift-types", json={"items": [*catalog, yacht]}, headers=api.auth(admin)
    )
    assert edited.status_code == 200
    streamer, whale = live_streamer(api), api.register()
    grant(app, whale, 2_500_000 + 3)
    big = send_gift(api, whale, "Yacht", 5000, room="main", position=1).get_json()["gift"]
    assert (big["coins"], big["streamer_share_centicoins"], big["platform_share_centicoins"]) == (
        2_500_000,
        175_000_000,
        75_000_000,
    )
    app.config["GIFT_STREAMER_SHARE_PERCENT"] = 33
    try:
        odd = send_gift(api, whale, "Rose", 3, recipient=streamer["user"]["username"]).get_json()
    finally:
        app.config["GIFT_STREAMER_SHARE_PERCENT"] = 70
    assert (odd["gift"]["streamer_share_centicoins"], odd["gift"]["platform_share_centicoins"]) == (
        99,
        201,
    )
    assert wallet_of(api, streamer)["earnings_balance_centicoins"] == 175_000_000 + 99
    assert_ledger_consistent(app)


def test_bad_gifts_are_refused_with_nothing_written(api, app, main_room, gift_mode):
    streamer, fan = live_streamer(api, position=2), api.register()
    grant(app, fan, 5)
    short = send_gift(api, fan, "Mansion", mode=gift_mode, room="main", position=2)
    assert short.status_code == 402
    assert "you have 5" in short.get_json()["message"]
    empty_box = send_gift(api, fan, mode=gift_mode, room="main", position=7)
    assert empty_box.status_code == 409
    assert send_gift(api, fan, room="main", position=13).status_code == 422
    yourself = send_gift(api, fan, mode=gift_mode, recipient=fan["user"]["username"])
    assert yourself.status_code == 422
    assert send_gift(api, fan).status_code == 422  # no target
    both = send_gift(api, fan, room="main", position=2, recipient=streamer["user"]["username"])
    assert both.status_code == 422
    assert send_gift(api, fan, quantity=0, room="main", position=2).status_code == 422
    assert send_gift(api, fan, quantity=10_000, room="main", position=2).status_code == 422
    assert send_gift(api, fan, recipient="nobody_like_this").status_code == 404
    unknown = api.post(
        GIFTS,
        json={"gift_type_id": str(uuid.uuid4()), "recipient": streamer["user"]["username"]},
        headers=api.auth(fan),
    )
    assert unknown.status_code == 404
    assert api.post(GIFTS, json={"gift_type_id": gift_type(api, "Rose")["id"]}).status_code == 401
    assert wallet_of(api, fan)["coin_balance"] == 5 and gift_count(app) == 0
    assert_ledger_consistent(app)


def test_a_frozen_account_cannot_gift(api, app, main_room, gift_mode):
    live_streamer(api)
    fan = api.register()
    grant(app, fan, 10)
    with app.app_context():
        take_back_coins(
            uuid.UUID(fan["user"]["id"]),
            15,
            kind=TransferKind.PURCHASE_REVERSAL,
            source_ref=str(uuid.uuid4()),
        )
        db.session.commit()
    refused = send_gift(api, fan, mode=gift_mode, room="main", position=1)
    assert refused.status_code == 403
    assert gift_count(app) == 0


def test_a_retired_gift_keeps_showing_on_old_gifts_but_cannot_be_sent(api, app, main_room):
    live_streamer(api)
    fan, admin = api.register(), api.register()
    with app.app_context():
        set_role(admin["user"]["username"], "admin")
        db.session.commit()
    grant(app, fan, 10)
    rose = gift_type(api, "Rose")
    old = send_gift(api, fan, room="main", position=1).get_json()["gift"]
    catalog = api.get("/api/v1/admin/gift-types", headers=api.auth(admin)).get_json()["items"]
    kept = [g for g in catalog if g["name"] != "Rose"]
    edited = api.put("/api/v1/admin/gift-types", json={"items": kept}, headers=api.auth(admin))
    assert [g["active"] for g in edited.get_json()["items"] if g["name"] == "Rose"] == [False]
    assert "Rose" not in [g["name"] for g in api.get(GIFTS).get_json()["items"]]
    retired = api.post(
        GIFTS,
        json={"gift_type_id": rose["id"], "room": "main", "position": 1},
        headers=api.auth(fan),
    )
    assert retired.status_code == 422
    assert old["gift_type"]["name"] == "Rose"
    assert api.get("/api/v1/admin/gift-types").status_code == 401
    assert api.get("/api/v1/admin/gift-types", headers=api.auth(fan)).status_code == 403


def test_the_same_idempotency_key_sends_one_gift(api, app, main_room):
    live_streamer(api)
    fan = api.register()
    grant(app, fan, 10)
    key = {"Idempotency-Key": "gift-1"}
    first = send_gift(api, fan, quantity=2, headers=key, room="main", position=1)
    again = send_gift(api, fan, quantity=2, headers=key, room="main", position=1)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["gift"]["id"] == first.get_json()["gift"]["id"]
    assert wallet_of(api, fan)["coin_balance"] == 8 and gift_count(app) == 1


def test_events_tell_the_room_and_the_streamer_with_combo_counts(api, app, main_room):
    streamer, fan = live_streamer(api, position=4), api.register()
    grant(app, fan, 10)
    for _ in range(3):
        send_gift(api, fan, room="main", position=4)
    other = api.get(GIFTS).get_json()["items"][1]["name"]
    grant(app, fan, 100)
    send_gift(api, fan, other, room="main", position=4)  # another gift starts its own combo
    with app.app_context():
        public = [
            e for e in read_events(room_stream_key("main"), "0-0", None) if e.type == "gift:sent"
        ]
        private = read_events(user_stream_key(streamer["user"]["id"]), "0-0", None)
    assert [e.data["combo"] for e in public] == [1, 2, 3, 1]
    first = public[0].data
    assert (first["position"], first["gift"]["emoji"], first["gift"]["animation"]) == (
        4,
        "🌹",
        "float",
    )
    assert first["sender"]["id"] == fan["user"]["id"] and first["quantity"] == 1
    assert [e.type for e in private].count("gift:received") == 4


def test_a_gift_line_precedes_its_announcement_and_gifts_to_a_user_stay_private(
    api, app, main_room
):
    streamer, fan = live_streamer(api, position=2), api.register()
    grant(app, fan, 10)
    send_gift(api, fan, room="main", position=2)
    send_gift(api, fan, recipient=streamer["user"]["username"])
    with app.app_context():
        public = read_events(room_stream_key("main"), "0-0", None)
        private = read_events(user_stream_key(streamer["user"]["id"]), "0-0", None)
    gift_events = [e for e in public if e.type in ("chat:message", "gift:sent")]
    assert [e.type for e in gift_events][-2:] == ["chat:message", "gift:sent"]
    assert gift_events[-2].data["kind"] == "gift" and "🌹" in gift_events[-2].data["body"]
    assert [e.type for e in public].count("gift:sent") == 1
    received = [e.data for e in private if e.type == "gift:received"]
    assert [(e["room"], e["combo"]) for e in received] == [("main", 1), (None, 2)]


def test_the_stream_leaderboard_ranks_gifters_by_coins(api, app, main_room):
    streamer, small, big = live_streamer(api), api.register(), api.register()
    grant(app, small, 5)
    grant(app, big, 100)
    send_gift(api, small, quantity=5, room="main", position=1)
    send_gift(api, big, quantity=50, room="main", position=1)
    with app.app_context():
        stream_id = db.session.scalar(select(Gift.stream_id).limit(1))
    board = api.get(f"/api/v1/streams/{stream_id}/leaderboard").get_json()["items"]
    assert [(b["rank"], b["coins"], b["profile"]["id"]) for b in board] == [
        (1, 50, big["user"]["id"]),
        (2, 5, small["user"]["id"]),
    ]
    assert api.get(f"/api/v1/streams/{uuid.uuid4()}/leaderboard").status_code == 404
    profile = api.get(f"/api/v1/profiles/{streamer['user']['username']}").get_json()
    assert profile["gifts_received_coins"] == 55


def test_the_stream_leaderboard_pages_like_every_list(api, app, main_room):
    live_streamer(api)
    gifters = [api.register() for _ in range(5)]
    for coins, gifter in zip((3, 7, 7, 1, 9), gifters, strict=True):
        grant(app, gifter, coins)
        assert send_gift(api, gifter, quantity=coins, room="main", position=1).status_code == 201
    with app.app_context():
        stream_id = db.session.scalar(select(Gift.stream_id).limit(1))
    path = f"/api/v1/streams/{stream_id}/leaderboard"
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(path, query_string=query).get_json()
        assert len(page["items"]) <= 2
        seen += [(b["rank"], b["coins"], b["profile"]["id"]) for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [g["user"]["id"] for g in gifters]
    # Ties (7 and 7) go to who gave first.
    assert seen == [(1, 9, ids[4]), (2, 7, ids[1]), (3, 7, ids[2]), (4, 3, ids[0]), (5, 1, ids[3])]
    whole = api.get(path).get_json()
    assert whole["next_cursor"] is None and len(whole["items"]) == 5
    assert api.get(path, query_string={"cursor": "nonsense"}).status_code == 422
    assert api.get(path, query_string={"limit": 101}).status_code == 422


@pytest.mark.real_session
@pytest.mark.parametrize("mode", ["autocommit", "one_transaction"])
def test_50_concurrent_gifts_from_a_sender_who_can_afford_10(app, main_room, mode):
    api = ApiClient(app)
    streamer, fan = live_streamer(api), api.register()
    grant(app, fan, 10)
    rose = gift_type(api, "Rose")["id"]
    body = {"gift_type_id": rose, "room": "main", "position": 1}
    balances_shown = []

    def gift(client, _):
        headers = {**api.auth(fan), **mode_headers(mode)}
        response = client.post(GIFTS, json=body, headers=headers)
        if response.status_code == 201:
            balances_shown.append(response.get_json()["wallet"]["coin_balance"])
        return response

    statuses = run_concurrently(app, 50, gift)
    assert sorted(statuses) == [201] * 10 + [402] * 40
    # Each answer shows the balance its own transfer left, not one read before or after.
    assert sorted(balances_shown) == list(range(10))
    assert wallet_of(api, fan)["coin_balance"] == 0
    assert wallet_of(api, streamer)["earnings_balance_centicoins"] == 700
    profile = api.get(f"/api/v1/profiles/{fan['user']['username']}").get_json()
    assert profile["gifts_sent_coins"] == 10
    assert gift_count(app) == 10
    with app.app_context():
        stream = db.session.scalar(select(Stream))
        assert (stream.gifts_received, stream.gift_coins_received) == (10, 10)
    assert_ledger_consistent(app)


@pytest.mark.real_session
def test_the_same_idempotency_key_sent_10_times_at_once_gives_one_gift(app, main_room):
    api = ApiClient(app)
    live_streamer(api)
    fan = api.register()
    grant(app, fan, 10)
    body = {"gift_type_id": gift_type(api, "Rose")["id"], "room": "main", "position": 1}
    headers = {**api.auth(fan), "Idempotency-Key": "same-gift"}
    statuses = run_concurrently(
        app, 10, lambda client, _: client.post(GIFTS, json=body, headers=headers)
    )
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert gift_count(app) == 1
    assert wallet_of(api, fan)["coin_balance"] == 9
    assert_ledger_consistent(app)
