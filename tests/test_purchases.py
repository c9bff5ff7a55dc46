"""Web purchases end to end: checkout at the fake Stripe, signed webhooks, a real RQ worker."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from mylivelinks import create_app
from mylivelinks.events.streams import STREAM_START, read_events, user_stream_key
from tests.conftest import make_config
from tests.fakes import stripe_events
from tests.helpers import ApiClient
from tests.money import (
    WEBHOOK_SECRET,
    StripeBuyer,
    assert_ledger_consistent,
    deliver,
    dispute_event,
    refund_event,
    run_jobs,
    stored_events,
)


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(pay_app):
    yield
    assert_ledger_consistent(pay_app)


@pytest.fixture
def buyer(pay_api, fake_stripe) -> StripeBuyer:
    return StripeBuyer(pay_api, fake_stripe)


def test_packs_follow_the_spec_defaults(pay_api):
    web = pay_api.get("/api/v1/coins/packs").get_json()["items"]
    assert [p["price_cents"] // 100 for p in web] == [
        5,
        10,
        25,
        50,
        100,
        250,
        500,
        1000,
        2500,
        5000,
        10000,
        25000,
    ]
    assert all(p["coins"] == p["price_cents"] // 100 * 70 for p in web)
    ios = pay_api.get("/api/v1/coins/packs?platform=ios").get_json()["items"]
    assert [p["price_cents"] // 100 for p in ios] == [1, 5, 10, 25, 50, 100, 250, 500, 1000]
    assert all(p["coins"] == p["price_cents"] // 100 * 50 for p in ios)
    assert pay_api.get("/api/v1/coins/packs?platform=windows").status_code == 422


def test_checkout_creates_a_stripe_session_and_a_pending_purchase(buyer, fake_stripe):
    purchase = buyer.checkout("web_25")
    call = next(
        c
        for c in fake_stripe.calls
        if c["params"].get("metadata", {}).get("purchase_id") == purchase["id"]
    )
    params = call["params"]
    assert params["mode"] == "payment"
    assert params["line_items"][0]["price_data"]["unit_amount"] == "2500"
    assert params["line_items"][0]["price_data"]["currency"] == "usd"
    assert params["metadata"]["user_id"] == buyer.user_id
    assert params["payment_intent_data"]["metadata"]["purchase_id"] == purchase["id"]
    assert call["headers"]["Idempotency-Key"] == f"checkout-{purchase['id']}"
    assert (purchase["status"], purchase["coins"], purchase["price_cents"]) == (
        "pending",
        1750,
        2500,
    )
    assert buyer.purchase(purchase["id"])["status"] == "pending"
    assert buyer.wallet()["coin_balance"] == 0


@pytest.mark.parametrize("pack_id", ["ios_5", "web_7", ""])
def test_checkout_refuses_packs_not_sold_on_the_web(buyer, pack_id):
    response = buyer.api.post(
        "/api/v1/coins/checkout", json={"pack_id": pack_id}, headers=buyer.headers
    )
    assert response.status_code == 422
    assert "pack_id" in response.get_json()["errors"]


def test_checkout_needs_stripe_configured_and_reports_stripe_refusals(
    server_urls, fake_stripe, app
):
    bare = ApiClient(create_app(make_config(server_urls)))
    session = bare.register()
    response = bare.post(
        "/api/v1/coins/checkout", json={"pack_id": "web_5"}, headers=bare.auth(session)
    )
    assert response.status_code == 503
    wrong_key = ApiClient(
        create_app(
            make_config(
                server_urls, STRIPE_SECRET_KEY="sk_test_wrong", STRIPE_API_BASE=fake_stripe.base_url
            )
        )
    )
    response = wrong_key.post(
        "/api/v1/coins/checkout", json={"pack_id": "web_5"}, headers=bare.auth(session)
    )
    assert response.status_code == 502


def test_a_paid_checkout_credits_the_coins_once(buyer, pay_app):
    purchase = buyer.checkout("web_5")
    paid = buyer.pay(purchase)
    for _ in range(3):
        assert deliver(buyer.api, paid).status_code == 200
    succeeded = stripe_events.event(
        "checkout.session.async_payment_succeeded", paid["data"]["object"]
    )
    assert deliver(buyer.api, succeeded).get_json() == {"received": True, "duplicate": False}
    run_jobs(pay_app)
    assert buyer.wallet() == {
        "coin_balance": 350,
        "earnings_balance_centicoins": 0,
        "frozen": False,
        "debt_coins": 0,
    }
    assert buyer.purchase(purchase["id"])["status"] == "confirmed"
    history = buyer.api.get("/api/v1/me/ledger", headers=buyer.headers).get_json()["items"]
    assert [(e["kind"], e["account"], e["amount_centicoins"]) for e in history] == [
        ("purchase", "coins", 35000)
    ]
    with pay_app.app_context():  # the buyer's private stream hears it once
        events = read_events(user_stream_key(buyer.user_id), STREAM_START, None)
    assert [(event.type, event.data) for event in events] == [
        (
            "coins:credited",
            {"purchase_id": purchase["id"], "pack_id": "web_5", "coins": 350},
        )
    ]


def test_an_amount_or_currency_unlike_the_pack_is_flagged_without_coins(buyer, pay_app):
    for change in ({"amount_total": 1}, {"currency": "eur"}):
        purchase = buyer.checkout("web_10")
        paid = buyer.pay(purchase)
        paid["data"]["object"].update(change)
        deliver(buyer.api, paid)
        run_jobs(pay_app)
        assert buyer.purchase(purchase["id"])["status"] == "flagged"
    assert buyer.wallet()["coin_balance"] == 0


def test_cumulative_refunds_apply_only_the_difference(buyer, pay_app):
    purchase = buyer.checkout("web_10")  # 700 coins for 1000 cents
    deliver(buyer.api, buyer.pay(purchase))
    for refunded, coins, status in (
        (500, 350, "partially_refunded"),
        (500, 350, "partially_refunded"),
        (1000, 0, "refunded"),
        (500, 0, "refunded"),
    ):
        deliver(buyer.api, refund_event(purchase, refunded))
        run_jobs(pay_app)
        assert buyer.wallet()["coin_balance"] == coins
        assert buyer.purchase(purchase["id"])["status"] == status


def test_a_won_dispute_returns_the_purchase_to_confirmed(buyer, pay_app):
    purchase = buyer.checkout("web_5")
    deliver(buyer.api, buyer.pay(purchase))
    deliver(buyer.api, dispute_event(purchase, "charge.dispute.created"))
    run_jobs(pay_app)
    assert buyer.purchase(purchase["id"])["status"] == "disputed"
    deliver(buyer.api, dispute_event(purchase, "charge.dispute.closed", status="won"))
    run_jobs(pay_app)
    assert buyer.purchase(purchase["id"])["status"] == "confirmed"
    assert buyer.wallet()["coin_balance"] == 350
    other = buyer.checkout("web_5")
    deliver(buyer.api, buyer.pay(other))
    deliver(buyer.api, dispute_event(other, "charge.dispute.created"))
    deliver(buyer.api, dispute_event(other, "charge.dispute.funds_reinstated"))
    run_jobs(pay_app)
    assert buyer.purchase(other["id"])["status"] == "confirmed"


def test_all_24_orders_of_four_events_reach_the_same_state(pay_api, fake_stripe, pay_app):
    outcomes, wallets = set(), set()
    for order in itertools.permutations(range(4)):
        buyer = StripeBuyer(pay_api, fake_stripe)
        purchase = buyer.checkout("web_10")  # 700 coins for 1000 cents
        events = [
            buyer.pay(purchase),
            refund_event(purchase, 500),  # half: the lost dispute takes back the rest
            dispute_event(purchase, "charge.dispute.created"),
            dispute_event(purchase, "charge.dispute.closed", status="lost"),
        ]
        for index in order:
            assert deliver(buyer.api, events[index]).status_code == 200
            run_jobs(pay_app)
        state = buyer.purchase(purchase["id"])
        outcomes.add(
            (
                state["status"],
                state["refunded_cents"],
                state["coins_credited"],
                state["coins_reversed"],
            )
        )
        wallets.add(tuple(sorted(buyer.wallet().items())))
    assert outcomes == {("chargeback", 500, 700, 700)}
    assert wallets == {
        (
            ("coin_balance", 0),
            ("debt_coins", 0),
            ("earnings_balance_centicoins", 0),
            ("frozen", False),
        )
    }


def test_the_25000_dollar_pack_end_to_end_in_bigint(buyer, pay_app):
    purchases = [buyer.checkout("web_25000") for _ in range(13)]
    for purchase in purchases:
        assert purchase["price_cents"] == 2_500_000 and purchase["coins"] == 1_750_000
        deliver(buyer.api, buyer.pay(purchase))
    run_jobs(pay_app)
    # 22,750,000 coins = 2,275,000,000 centicoins: past what a 32-bit column holds.
    assert buyer.wallet()["coin_balance"] == 13 * 1_750_000
    refunded = purchases[0]
    deliver(buyer.api, refund_event(refunded, 2_500_000))
    run_jobs(pay_app)
    assert buyer.wallet()["coin_balance"] == 12 * 1_750_000
    assert buyer.purchase(refunded["id"])["status"] == "refunded"
    deliver(buyer.api, dispute_event(refunded, "charge.dispute.created"))
    run_jobs(pay_app)
    assert buyer.purchase(refunded["id"])["status"] == "disputed"
    deliver(buyer.api, dispute_event(refunded, "charge.dispute.closed", status="lost"))
    run_jobs(pay_app)
    state = buyer.purchase(refunded["id"])
    assert (state["status"], state["coins_reversed"]) == ("chargeback", 1_750_000)
    assert buyer.wallet()["coin_balance"] == 12 * 1_750_000  # nothing taken twice


@pytest.mark.parametrize("attack", ["byte-changed", "301-seconds-old", "wrong-secret", "missing"])
def test_signature_attacks_are_400_and_store_nothing(buyer, pay_app, attack):
    purchase = buyer.checkout("web_5")
    body, headers = stripe_events.signed_delivery(buyer.pay(purchase), WEBHOOK_SECRET)
    if attack == "byte-changed":
        body = body.replace(b'"amount_total":500', b'"amount_total":900')
    elif attack == "301-seconds-old":
        body, headers = stripe_events.signed_delivery(
            json.loads(body), WEBHOOK_SECRET, timestamp=int(time.time()) - 301
        )
    elif attack == "wrong-secret":
        body, headers = stripe_events.signed_delivery(json.loads(body), "whsec_not_ours")
    else:
        headers.pop("Stripe-Signature")
    before = stored_events(pay_app)
    response = buyer.api.post("/api/v1/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["code"] == 400
    assert stored_events(pay_app) == before
    assert run_jobs(pay_app) == 0
    assert buyer.wallet()["coin_balance"] == 0


def test_unrelated_event_types_are_stored_and_ignored(buyer, pay_app):
    evt = stripe_events.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(buyer.api, evt).status_code == 200
    run_jobs(pay_app)
    assert buyer.wallet()["coin_balance"] == 0


def test_webhooks_need_a_configured_secret(api):
    evt = stripe_events.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(api, evt).status_code == 503


@pytest.mark.parametrize("body", [b'{"id": "evt_1", "type": "charge.refunded"}', b"[1, 2]", b"{"])
def test_a_signed_payload_that_is_not_an_event_is_400(buyer, pay_app, body):
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_events.sign(body, WEBHOOK_SECRET),
    }
    before = stored_events(pay_app)
    response = buyer.api.post("/api/v1/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 400
    assert stored_events(pay_app) == before


def test_invalid_utf8_is_400_and_a_nul_character_is_kept_raw(buyer, pay_app):
    body = b'{"id": "evt_bad", "type": "customer.created", "data": {"object": {"n": "\xff"}}}'
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_events.sign(body, WEBHOOK_SECRET),
    }
    assert buyer.api.post("/api/v1/webhooks/stripe", data=body, headers=headers).status_code == 400
    evt = stripe_events.event("customer.created", {"id": "cus_2", "name": "nul\u0000byte"})
    body, headers = stripe_events.signed_delivery(evt, WEBHOOK_SECRET)
    assert buyer.api.post("/api/v1/webhooks/stripe", data=body, headers=headers).status_code == 200
    with pay_app.app_context():
        from sqlalchemy import select

        from mylivelinks.extensions import db
        from mylivelinks.models import PaymentEvent

        stored = db.session.scalar(select(PaymentEvent).where(PaymentEvent.event_id == evt["id"]))
        assert stored.raw_body == body
        assert stored.payload["data"]["object"]["name"] == "nulbyte"
