"""Remembered gift targets: a gift goes where the box or the catalog is now, never where it was."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from mylivelinks.extensions import db
from mylivelinks.models import Gift, Stream
from mylivelinks.services.gifts.targets import TargetKey, recent_targets
from tests.helpers import ApiClient, run_concurrently, staff
from tests.money import (
    GIFTS,
    assert_ledger_consistent,
    gift_count,
    gift_type,
    grant,
    live_streamer,
    send_gift,
    wallet_of,
)

LIVE = "/api/v1/rooms/main/live"


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(app):
    yield
    assert_ledger_consistent(app)


def _earnings(api, session) -> int:
    return wallet_of(api, session)["earnings_balance_centicoins"]


def test_a_gift_remembers_its_target(api, app, main_room):
    streamer, fan = live_streamer(api), api.register()
    grant(app, fan, 1)
    rose = gift_type(api, "Rose")
    assert send_gift(api, fan, room="main", position=1).status_code == 201
    with app.app_context():
        target = recent_targets().get(TargetKey(uuid.UUID(rose["id"]), "main", 1, None))
    assert target is not None
    assert (str(target.recipient_id), target.coin_cost) == (streamer["user"]["id"], 1)


def test_a_box_that_changed_hands_gets_the_gift_for_its_new_streamer(api, app, main_room):
    first, fan = live_streamer(api), api.register()
    grant(app, fan, 10)
    assert send_gift(api, fan, room="main", position=1).status_code == 201
    assert api.delete(LIVE, headers=api.auth(first)).status_code == 200
    assert send_gift(api, fan, room="main", position=1).status_code == 409  # empty now
    second = live_streamer(api)
    sent = send_gift(api, fan, quantity=2, room="main", position=1)
    assert sent.status_code == 201
    assert sent.get_json()["gift"]["recipient"]["id"] == second["user"]["id"]
    assert (_earnings(api, first), _earnings(api, second)) == (70, 140)
    assert wallet_of(api, fan)["coin_balance"] == 7 and gift_count(app) == 2


def test_a_streamer_cannot_gift_their_own_box_through_someone_elses_target(api, app, main_room):
    streamer, fan = live_streamer(api), api.register()
    grant(app, fan, 1)
    grant(app, streamer, 1)
    assert send_gift(api, fan, room="main", position=1).status_code == 201
    own = send_gift(api, streamer, room="main", position=1)
    assert own.status_code == 422 and "yourself" in own.get_json()["message"]
    assert wallet_of(api, streamer)["coin_balance"] == 1 and gift_count(app) == 1


def test_a_new_price_and_new_names_apply_to_the_next_gift(api, app, main_room):
    live_streamer(api)
    fan, admin = api.register(), staff(api, app, "admin")
    grant(app, fan, 10)
    assert send_gift(api, fan, room="main", position=1).get_json()["gift"]["coins"] == 1
    catalog = api.get("/api/v1/admin/gift-types", headers=api.auth(admin)).get_json()["items"]
    for item in catalog:
        if item["name"] == "Rose":
            item.update(coin_cost=3, emoji="🥀")
    edited = api.put("/api/v1/admin/gift-types", json={"items": catalog}, headers=api.auth(admin))
    assert edited.status_code == 200
    renamed = api.patch("/api/v1/me", json={"display_name": "Big Fan"}, headers=api.auth(fan))
    assert renamed.status_code == 200
    sent = send_gift(api, fan, quantity=2, room="main", position=1).get_json()
    assert (sent["gift"]["coins"], sent["gift"]["gift_type"]["emoji"]) == (6, "🥀")
    assert sent["gift"]["sender"]["display_name"] == "Big Fan"
    assert sent["wallet"]["coin_balance"] == 3
    chat = api.get("/api/v1/rooms/main/chat").get_json()["items"]
    assert chat[0]["body"].endswith("2 x 🥀 Rose")


def test_a_gift_to_a_user_follows_them_going_live(api, app, main_room):
    streamer, fan = api.register(), api.register()
    grant(app, fan, 2)
    username = streamer["user"]["username"]
    offline = send_gift(api, fan, recipient=username).get_json()["gift"]
    assert offline["stream_id"] is None
    api.post(LIVE, json={"position": 3}, headers=api.auth(streamer))
    live = send_gift(api, fan, recipient=username).get_json()["gift"]
    with app.app_context():
        stream_id = db.session.scalar(select(Stream.id).where(Stream.status == "live"))
    assert live["stream_id"] == str(stream_id)


@pytest.mark.real_session
def test_gifts_racing_a_box_changing_hands_each_go_to_one_live_streamer(app, main_room):
    api = ApiClient(app)
    first = live_streamer(api)
    fans = [api.register() for _ in range(4)]
    for fan in fans:
        grant(app, fan, 100)
    body = {"gift_type_id": gift_type(api, "Rose")["id"], "room": "main", "position": 1}
    assert api.post(GIFTS, json=body, headers=api.auth(fans[0])).status_code == 201
    second = api.register()
    gift_statuses = []

    def gift_or_hand_over(client, index):
        if index == 0:
            client.delete(LIVE, headers=api.auth(first))
            return client.post(LIVE, json={"position": 1}, headers=api.auth(second))
        response = client.post(GIFTS, json=body, headers=api.auth(fans[index % len(fans)]))
        gift_statuses.append(response.status_code)
        return response

    handed_over, *_ = run_concurrently(app, 25, gift_or_hand_over)
    assert handed_over == 201
    assert set(gift_statuses) <= {201, 409}, gift_statuses
    with app.app_context():
        per_stream = db.session.execute(
            select(
                Stream.streamer_id,
                Stream.gifts_received,
                func.count(Gift.id),
                func.bool_and(Gift.recipient_id == Stream.streamer_id),
            )
            .join(Gift, Gift.stream_id == Stream.id)
            .group_by(Stream.id)
        ).all()
    assert all(counted == gifts and matches for _, counted, gifts, matches in per_stream)
    by_streamer = {str(streamer_id): gifts for streamer_id, _, gifts, _ in per_stream}
    assert sum(by_streamer.values()) == 1 + gift_statuses.count(201)
    assert _earnings(api, first) == 70 * by_streamer.get(first["user"]["id"], 0)
    assert _earnings(api, second) == 70 * by_streamer.get(second["user"]["id"], 0)
