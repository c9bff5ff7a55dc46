"""The stores' money invariants under real concurrency: separate connections committing,
the same notification or purchase arriving many times at once, the app's report and the
store's notification racing for one purchase."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import func, select, text

from mylivelinks.extensions import db, get_redis
from mylivelinks.models import CoinPurchase
from tests.helpers import ApiClient, run_concurrently
from tests.money import assert_ledger_consistent, run_jobs, stored_events
from tests.store_money import AppleBuyer, GoogleBuyer, apple_body

pytestmark = pytest.mark.real_session


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(store_app):
    yield
    assert_ledger_consistent(store_app)


def purchase_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CoinPurchase))


def test_one_apple_notification_delivered_20_times_at_once_is_applied_once(
    store_app, fake_app_store
):
    buyer = AppleBuyer(ApiClient(store_app), fake_app_store)
    body = json.dumps(apple_body(buyer.pki, "ONE_TIME_CHARGE", buyer.buy("ios_50"))).encode()
    statuses = run_concurrently(
        store_app,
        20,
        lambda client, _: client.post(
            "/api/v1/webhooks/apple", data=body, headers={"Content-Type": "application/json"}
        ),
    )
    assert statuses == [200] * 20
    assert stored_events(store_app) == 1
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 50 * 50


def test_one_google_push_delivered_20_times_at_once_is_applied_once(store_app, fake_google_play):
    buyer = GoogleBuyer(ApiClient(store_app), fake_google_play)
    record = buyer.buy("android_25")
    body = fake_google_play.push_body(fake_google_play.notification("purchased", record))
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {fake_google_play.push_token()}",
    }
    statuses = run_concurrently(
        store_app,
        20,
        lambda client, _: client.post("/api/v1/webhooks/google", data=body, headers=headers),
    )
    assert statuses == [200] * 20
    assert stored_events(store_app) == 1
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 25 * 50


def test_the_same_apple_transaction_redeemed_20_times_at_once_credits_once(
    store_app, fake_app_store
):
    buyer = AppleBuyer(ApiClient(store_app), fake_app_store)
    signed = buyer.pki.sign(buyer.buy("ios_10"))
    statuses = run_concurrently(
        store_app,
        20,
        lambda client, _: client.post(
            "/api/v1/coins/apple/transactions",
            json={"signed_transaction": signed},
            headers=buyer.headers,
        ),
    )
    assert statuses == [200] * 20
    assert purchase_count(store_app) == 1
    assert buyer.wallet()["coin_balance"] == 500


def test_the_same_google_purchase_redeemed_20_times_at_once_credits_once(
    store_app, fake_google_play
):
    buyer = GoogleBuyer(ApiClient(store_app), fake_google_play)
    record = buyer.buy("android_10")
    proof = {"product_id": "android_10", "purchase_token": record["purchaseToken"]}
    statuses = run_concurrently(
        store_app,
        20,
        lambda client, _: client.post(
            "/api/v1/coins/google/purchases", json=proof, headers=buyer.headers
        ),
    )
    assert statuses == [200] * 20
    assert purchase_count(store_app) == 1
    assert buyer.wallet()["coin_balance"] == 500
    run_jobs(store_app)
    assert fake_google_play.purchases[record["purchaseToken"]]["consumptionState"] == 1


def _race(store_app, report, event_id: str, rounds: int = 10) -> None:
    """The app's report (`rounds` requests) and workers applying the store's notification,
    all started at once."""
    from mylivelinks.jobs.payments import apply_payment_event

    barrier = Barrier(rounds * 2)

    def app_reports(_: int) -> int:
        client = store_app.test_client()
        barrier.wait()
        return report(client).status_code

    def worker_applies(_: int) -> None:
        with store_app.app_context():
            barrier.wait()
            apply_payment_event(event_id)

    with ThreadPoolExecutor(max_workers=rounds * 2) as pool:
        reports = [pool.submit(app_reports, i) for i in range(rounds)]
        applied = [pool.submit(worker_applies, i) for i in range(rounds)]
        assert [f.result() for f in reports] == [200] * rounds
        for future in applied:
            future.result()


def _only_event_id(store_app) -> str:
    with store_app.app_context():
        get_redis().flushdb()  # the queued job: the race applies it instead
        return str(db.session.scalar(text("SELECT id FROM payment_events")))


def test_the_apps_report_and_apples_notification_racing_credit_once(store_app, fake_app_store):
    buyer = AppleBuyer(ApiClient(store_app), fake_app_store)
    claims = buyer.buy("ios_25")
    buyer.notify("ONE_TIME_CHARGE", claims)
    signed = buyer.pki.sign(claims)
    _race(
        store_app,
        lambda client: client.post(
            "/api/v1/coins/apple/transactions",
            json={"signed_transaction": signed},
            headers=buyer.headers,
        ),
        _only_event_id(store_app),
    )
    run_jobs(store_app)
    assert purchase_count(store_app) == 1
    assert buyer.wallet()["coin_balance"] == 25 * 50


def test_the_apps_report_and_googles_notification_racing_credit_once(store_app, fake_google_play):
    buyer = GoogleBuyer(ApiClient(store_app), fake_google_play)
    record = buyer.buy("android_25")
    buyer.notify("purchased", record)
    proof = {"product_id": "android_25", "purchase_token": record["purchaseToken"]}
    _race(
        store_app,
        lambda client: client.post(
            "/api/v1/coins/google/purchases", json=proof, headers=buyer.headers
        ),
        _only_event_id(store_app),
    )
    run_jobs(store_app)
    assert purchase_count(store_app) == 1
    assert buyer.wallet()["coin_balance"] == 25 * 50
    assert fake_google_play.purchases[record["purchaseToken"]]["consumptionState"] == 1


def test_a_waiting_apple_notification_is_swept_once_the_purchase_is_known(
    store_app, fake_app_store
):
    from mylivelinks.jobs.payments import requeue_stuck_payment_events

    buyer = AppleBuyer(ApiClient(store_app), fake_app_store)
    claims = buyer.buy("ios_5", account=False)
    refund = {**claims, "revocationDate": 1}
    buyer.notify("REFUND", refund)
    run_jobs(store_app)  # deferred: the store names no account
    assert buyer.redeem(buyer.pki.sign(claims)).status_code == 200
    with store_app.app_context():
        get_redis().flushdb()  # the job that released it is lost
        assert requeue_stuck_payment_events() == 1
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 0
    state = buyer.only_purchase()
    assert (state["status"], state["coins_credited"], state["coins_reversed"]) == (
        "refunded",
        250,
        250,
    )


def test_a_new_users_first_purchases_from_both_stores_at_once_all_credit(
    store_app, fake_app_store, fake_google_play
):
    apple = AppleBuyer(ApiClient(store_app), fake_app_store)
    google = GoogleBuyer(ApiClient(store_app), fake_google_play)
    google.session, google.headers = apple.session, apple.headers  # one user, both phones
    signed = [apple.pki.sign(apple.buy("ios_1")) for _ in range(10)]
    tokens = [google.buy("android_1")["purchaseToken"] for _ in range(10)]

    def redeem(client, index: int):
        if index % 2:
            proof = {"product_id": "android_1", "purchase_token": tokens[index // 2]}
            return client.post("/api/v1/coins/google/purchases", json=proof, headers=apple.headers)
        return client.post(
            "/api/v1/coins/apple/transactions",
            json={"signed_transaction": signed[index // 2]},
            headers=apple.headers,
        )

    assert run_concurrently(store_app, 20, redeem) == [200] * 20
    assert apple.wallet()["coin_balance"] == 20 * 50


def test_googles_void_notification_and_the_poll_applying_at_once_take_back_once(
    store_app, fake_google_play
):
    from mylivelinks.jobs.payments import apply_payment_event, poll_google_voided_purchases

    fake_google_play.forget_voids()
    buyer = GoogleBuyer(ApiClient(store_app), fake_google_play)
    record = buyer.buy("android_25")
    assert buyer.redeem(record).status_code == 200
    run_jobs(store_app)
    fake_google_play.void(record["purchaseToken"], 7)
    assert buyer.notify("voided", record).status_code == 200
    with store_app.app_context():
        assert poll_google_voided_purchases()["queued"] == 1
        get_redis().flushdb()  # the queued jobs: the race applies them instead
        notified, polled = (
            str(event_id)
            for event_id in db.session.scalars(
                text("SELECT id FROM payment_events ORDER BY event_id LIKE 'voidedpurchases:%'")
            )
        )
    rounds = 6
    barrier = Barrier(rounds * 2 + 2)

    def worker(index: int):
        with store_app.app_context():
            barrier.wait()
            if index >= rounds * 2:
                return poll_google_voided_purchases()["already_stored"]
            return apply_payment_event(notified if index % 2 else polled)

    with ThreadPoolExecutor(max_workers=rounds * 2 + 2) as pool:
        results = list(pool.map(worker, range(rounds * 2 + 2)))
    assert results[-2:] == [1, 1]  # the poll running again meanwhile stores nothing new
    assert set(results[:-2]) <= {"processed", None}
    run_jobs(store_app)
    state = buyer.only_purchase()
    assert (state["status"], state["coins_credited"], state["coins_reversed"]) == (
        "chargeback",
        25 * 50,
        25 * 50,
    )
    assert buyer.wallet()["coin_balance"] == 0 and buyer.wallet()["debt_coins"] == 0
    with store_app.app_context():
        statuses = db.session.scalars(text("SELECT status FROM payment_events")).all()
    assert statuses == ["processed", "processed"]
