"""Duplicated, concurrent and lost webhook deliveries; refunds after the coins were spent."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import select, text

from mylivelinks import create_app
from mylivelinks.extensions import db, get_redis
from mylivelinks.models import PaymentEvent
from tests.conftest import make_config
from tests.fakes import stripe_events
from tests.helpers import ApiClient, run_concurrently
from tests.money import (
    STRIPE_KEY,
    WEBHOOK_SECRET,
    StripeBuyer,
    assert_ledger_consistent,
    deliver,
    refund_event,
    run_jobs,
    send_gift,
    stored_events,
)


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(pay_app):
    yield
    assert_ledger_consistent(pay_app)


@pytest.mark.real_session
def test_one_event_delivered_20_times_concurrently_is_applied_once(pay_app, fake_stripe):
    buyer = StripeBuyer(ApiClient(pay_app), fake_stripe)
    purchase = buyer.checkout("web_50")
    body, headers = stripe_events.signed_delivery(buyer.pay(purchase), WEBHOOK_SECRET)
    statuses = run_concurrently(
        pay_app,
        20,
        lambda client, _: client.post("/api/v1/webhooks/stripe", data=body, headers=headers),
    )
    assert statuses == [200] * 20
    assert stored_events(pay_app) == 1
    run_jobs(pay_app)
    # Deliver again after it was applied, and run a second worker pass.
    assert deliver(buyer.api, json.loads(body)).get_json()["duplicate"] is True
    run_jobs(pay_app)
    assert buyer.wallet()["coin_balance"] == 50 * 70
    assert buyer.purchase(purchase["id"])["coins_credited"] == 3500


@pytest.mark.real_session
def test_events_stored_before_redis_was_flushed_are_swept_and_applied_once(pay_app, fake_stripe):
    buyer = StripeBuyer(ApiClient(pay_app), fake_stripe)
    purchase = buyer.checkout("web_10")
    deliver(buyer.api, buyer.pay(purchase))
    deliver(buyer.api, refund_event(purchase, 500))
    with pay_app.app_context():
        get_redis().flushdb()  # every queued job is lost
    assert run_jobs(pay_app) == 0
    assert buyer.wallet()["coin_balance"] == 0
    with pay_app.app_context():
        from mylivelinks.jobs.payments import requeue_stuck_payment_events

        assert requeue_stuck_payment_events() == 0  # not stuck for two minutes yet
        db.session.execute(
            text("UPDATE payment_events SET received_at = received_at - interval '3 minutes'")
        )
        db.session.commit()
        assert requeue_stuck_payment_events() == 2
        assert requeue_stuck_payment_events() == 2  # enqueued twice: still applied once
    run_jobs(pay_app)
    assert buyer.wallet()["coin_balance"] == 350
    with pay_app.app_context():
        statuses = db.session.scalars(select(PaymentEvent.status)).all()
        assert statuses == ["processed", "processed"]
        assert requeue_stuck_payment_events() == 0


@pytest.fixture
def thousand_coin_api(server_urls, fake_stripe, tmp_path, app):
    packs = tmp_path / "packs.json"
    packs.write_text(
        json.dumps(
            [
                {"id": "web_test_1000", "platform": "web", "coins": 1000, "price_cents": 1429},
            ]
        )
    )
    return ApiClient(
        create_app(
            make_config(
                server_urls,
                COIN_PACKS_FILE=str(packs),
                STRIPE_SECRET_KEY=STRIPE_KEY,
                STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                STRIPE_API_BASE=fake_stripe.base_url,
            )
        )
    )


def test_refund_after_spending_books_debt_freezes_and_the_next_purchase_repays(
    thousand_coin_api, fake_stripe, main_room
):
    buyer = StripeBuyer(thousand_coin_api, fake_stripe)
    star = {"recipient": thousand_coin_api.register()["user"]["username"]}
    purchase = buyer.checkout("web_test_1000")
    deliver(buyer.api, buyer.pay(purchase))
    run_jobs(buyer.api.app)
    assert buyer.wallet()["coin_balance"] == 1000
    spent = send_gift(buyer.api, buyer.session, "Rose", 900, **star)  # 1 coin each
    assert spent.status_code == 201, spent.get_json()
    deliver(buyer.api, refund_event(purchase, 1429))
    run_jobs(buyer.api.app)
    assert buyer.wallet() == {
        "coin_balance": 0,
        "earnings_balance_centicoins": 0,
        "frozen": True,
        "debt_coins": 900,
    }
    assert buyer.purchase(purchase["id"])["status"] == "refunded"
    assert send_gift(buyer.api, buyer.session, "Rose", 1, **star).status_code == 403
    again = buyer.checkout("web_test_1000")
    deliver(buyer.api, buyer.pay(again))
    run_jobs(buyer.api.app)
    assert buyer.wallet() == {
        "coin_balance": 100,
        "earnings_balance_centicoins": 0,
        "frozen": False,
        "debt_coins": 0,
    }


@pytest.mark.real_session
def test_one_stored_event_applied_by_10_workers_at_once_credits_once(pay_app, fake_stripe):
    from mylivelinks.jobs.payments import apply_payment_event

    buyer = StripeBuyer(ApiClient(pay_app), fake_stripe)
    purchase = buyer.checkout("web_5")
    deliver(buyer.api, buyer.pay(purchase))
    with pay_app.app_context():
        get_redis().flushdb()
        event_id = str(db.session.scalar(select(PaymentEvent.id)))
    barrier = Barrier(10)

    def apply(_: int) -> str | None:
        with pay_app.app_context():  # each worker: its own connection and commit
            barrier.wait()
            return apply_payment_event(event_id)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = Counter(pool.map(apply, range(10)))
    assert results == {"processed": 1, None: 9}
    assert buyer.wallet()["coin_balance"] == 350


def test_an_event_that_always_fails_is_marked_failed_and_no_longer_swept(buyer_app_pair):
    from mylivelinks.jobs.payments import apply_payment_event, requeue_stuck_payment_events
    from mylivelinks.payments.events import MAX_ATTEMPTS

    buyer, pay_app = buyer_app_pair
    purchase = buyer.checkout("web_5")
    deliver(buyer.api, buyer.pay(purchase))
    poison = refund_event(purchase, 100)
    poison["data"]["object"]["amount_refunded"] = "not a number"
    deliver(buyer.api, poison)
    with pay_app.app_context():
        get_redis().flushdb()
        poison_id = db.session.scalar(
            select(PaymentEvent.id).where(PaymentEvent.event_id == poison["id"])
        )
        for _ in range(MAX_ATTEMPTS):
            with pytest.raises(ValueError):
                apply_payment_event(str(poison_id))
        event = db.session.get(PaymentEvent, poison_id)
        db.session.refresh(event)
        assert (event.status, event.attempts) == ("failed", MAX_ATTEMPTS)
        assert "not a number" in event.error
        db.session.execute(
            text("UPDATE payment_events SET received_at = received_at - interval '3 minutes'")
        )
        assert requeue_stuck_payment_events() == 1  # the good one, never the poison
    metrics = buyer.api.get("/metrics").get_data(as_text=True)
    assert "mylivelinks_payment_events_failed 1.0" in metrics
    run_jobs(pay_app)
    assert buyer.wallet()["coin_balance"] == 350


@pytest.fixture
def buyer_app_pair(pay_api, pay_app, fake_stripe):
    return StripeBuyer(pay_api, fake_stripe), pay_app
