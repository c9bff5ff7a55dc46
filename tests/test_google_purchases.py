"""Google Play purchases end to end: the Android Publisher API and the OAuth token endpoint
faked on 127.0.0.1 behind Google's own client, Pub/Sub pushes with OIDC tokens verified by
google-auth, a real RQ worker, the one purchase state machine."""

from __future__ import annotations

import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, text

from mylivelinks.extensions import db, get_redis
from mylivelinks.models import PaymentEvent
from mylivelinks.payments.base import PaymentUnavailable
from tests.fakes import google_play
from tests.money import assert_ledger_consistent, run_jobs, send_gift, stored_events
from tests.store_money import GoogleBuyer, push


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(store_app):
    yield
    assert_ledger_consistent(store_app)


@pytest.fixture
def buyer(store_api, fake_google_play) -> GoogleBuyer:
    return GoogleBuyer(store_api, fake_google_play)


def event_statuses(app) -> list[str]:
    with app.app_context():
        query = select(PaymentEvent.status).order_by(PaymentEvent.received_at)
        return list(db.session.scalars(query))


def test_a_redeemed_purchase_credits_once_then_is_consumed(buyer, store_app, fake_google_play):
    record = buyer.buy("android_5")  # $5: 250 coins
    first = buyer.redeem(record)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["wallet"]["coin_balance"] == 250
    assert (body["purchase"]["provider"], body["purchase"]["status"]) == ("google", "confirmed")
    token = record["purchaseToken"]
    assert fake_google_play.purchases[token]["consumptionState"] == 0
    run_jobs(store_app)  # the consumption, once committed
    assert fake_google_play.purchases[token]["consumptionState"] == 1
    again = buyer.redeem(record)
    assert again.status_code == 200
    assert again.get_json()["purchase"]["id"] == body["purchase"]["id"]
    buyer.notify("purchased", record)
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 250
    consumes = [c for c in fake_google_play.calls if c[1].endswith(f"{token}:consume")]
    assert len(consumes) == 1  # consumed once: Google refuses a second time


def test_a_notification_credits_when_the_app_never_reported(buyer, store_app, fake_google_play):
    record = buyer.buy("android_10")
    assert buyer.notify("purchased", record).get_json() == {"received": True, "duplicate": False}
    assert buyer.wallet()["coin_balance"] == 0
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 500
    assert buyer.only_purchase()["status"] == "confirmed"
    assert fake_google_play.purchases[record["purchaseToken"]]["consumptionState"] == 1


def test_a_notification_naming_no_account_waits_for_the_app(buyer, store_app):
    record = buyer.buy("android_5", account=False)
    buyer.notify("purchased", record)
    run_jobs(store_app)
    assert event_statuses(store_app) == ["deferred"]
    assert buyer.redeem(record).get_json()["wallet"]["coin_balance"] == 250
    run_jobs(store_app)
    assert event_statuses(store_app) == ["processed"]
    assert buyer.wallet()["coin_balance"] == 250


def test_a_license_testers_purchase_without_order_id_is_credited_once(buyer, store_app):
    record = buyer.buy("android_1", test_purchase=True)
    assert "orderId" not in record
    assert buyer.redeem(record).get_json()["wallet"]["coin_balance"] == 50
    buyer.notify("purchased", record)
    run_jobs(store_app)
    assert buyer.redeem(record).get_json()["wallet"]["coin_balance"] == 50


@pytest.mark.parametrize(("reason", "status"), [(1, "refunded"), (7, "chargeback")])
def test_a_voided_purchase_takes_the_coins_back(buyer, store_app, fake_google_play, reason, status):
    record = buyer.buy("android_5")
    buyer.redeem(record)
    fake_google_play.void(record["purchaseToken"], reason)
    buyer.notify("voided", record)
    run_jobs(store_app)
    state = buyer.only_purchase()
    assert (state["status"], state["coins_reversed"]) == (status, 250)
    assert buyer.wallet()["coin_balance"] == 0


def test_every_order_of_report_purchase_and_void_reaches_one_state(store_api, fake_google_play):
    outcomes, wallets = set(), set()
    for order in itertools.permutations(range(3)):
        buyer = GoogleBuyer(store_api, fake_google_play)
        record = buyer.buy("android_5")
        purchased = fake_google_play.notification("purchased", record)
        fake_google_play.void(record["purchaseToken"], 7)  # at Google it already happened
        voided = fake_google_play.notification("voided", record)
        steps = [
            lambda buyer=buyer, record=record: buyer.redeem(record),
            lambda buyer=buyer, n=purchased: push(buyer.api, fake_google_play, n),
            lambda buyer=buyer, n=voided: push(buyer.api, fake_google_play, n),
        ]
        for index in order:
            assert steps[index]().status_code == 200
            run_jobs(store_api.app)
        state = buyer.only_purchase()
        outcomes.add(
            (
                state["status"],
                state["refunded_cents"],
                state["coins_credited"],
                state["coins_reversed"],
            )
        )
        wallets.add(tuple(sorted(buyer.wallet().items())))
    assert outcomes == {("chargeback", 500, 250, 250)}
    assert wallets == {
        (
            ("coin_balance", 0),
            ("debt_coins", 0),
            ("earnings_balance_centicoins", 0),
            ("frozen", False),
        )
    }


def test_void_after_spending_books_debt_freezes_and_the_next_purchase_repays(
    buyer, store_app, fake_google_play, main_room
):
    star = {"recipient": buyer.api.register()["user"]["username"]}
    record = buyer.buy("android_5")
    buyer.redeem(record)
    assert send_gift(buyer.api, buyer.session, "Rose", 200, **star).status_code == 201
    fake_google_play.void(record["purchaseToken"])
    buyer.notify("voided", record)
    run_jobs(store_app)
    assert buyer.wallet() == {
        "coin_balance": 0,
        "earnings_balance_centicoins": 0,
        "frozen": True,
        "debt_coins": 200,
    }
    assert send_gift(buyer.api, buyer.session, "Rose", 1, **star).status_code == 403
    assert buyer.redeem(buyer.buy("android_5")).get_json()["wallet"] == {
        "coin_balance": 50,
        "earnings_balance_centicoins": 0,
        "frozen": False,
        "debt_coins": 0,
    }


PUSH_ATTACKS = {
    "wrong audience": {"audience": "https://elsewhere.test/push"},
    "expired": {"expires_in": -600},
    "forged signature": {"key": rsa.generate_private_key(public_exponent=65537, key_size=2048)},
    "another account": {"email": "someone@evil.iam.gserviceaccount.com"},
    "unverified e-mail": {"email_verified": False},
    "not Google's issuer": {"issuer": "https://issuer.evil.test"},
}


@pytest.mark.parametrize("attack", sorted(PUSH_ATTACKS))
def test_pushes_whose_token_does_not_verify_are_400_and_store_nothing(
    buyer, store_app, fake_google_play, attack
):
    record = buyer.buy("android_5")
    notification = fake_google_play.notification("purchased", record)
    response = push(buyer.api, fake_google_play, notification, **PUSH_ATTACKS[attack])
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["code"] == 400
    assert stored_events(store_app) == 0
    assert run_jobs(store_app) == 0


def test_a_push_without_a_token_or_about_another_app_is_400(buyer, fake_google_play, store_app):
    record = buyer.buy("android_5")
    body = fake_google_play.push_body(fake_google_play.notification("purchased", record))
    headers = {"Content-Type": "application/json"}
    assert buyer.api.post("/api/v1/webhooks/google", data=body, headers=headers).status_code == 400
    other_app = fake_google_play.notification("purchased", record, packageName="com.other.app")
    assert push(buyer.api, fake_google_play, other_app).status_code == 400
    for bad in (b"{}", b'{"message": {"data": "%%%", "messageId": "1"}}'):
        response = buyer.api.post(
            "/api/v1/webhooks/google",
            data=bad,
            headers={**headers, "Authorization": f"Bearer {fake_google_play.push_token()}"},
        )
        assert response.status_code == 400
    assert stored_events(store_app) == 0


def test_the_same_push_redelivered_is_stored_once(buyer, store_app, fake_google_play):
    record = buyer.buy("android_5")
    notification = fake_google_play.notification("purchased", record)
    answers = [push(buyer.api, fake_google_play, notification, "msg-1").get_json() for _ in "abc"]
    assert [a["duplicate"] for a in answers] == [False, True, True]
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 250


@pytest.mark.parametrize(
    "case", ["unknown token", "another product", "pending", "another package", "canceled"]
)
def test_purchases_google_does_not_vouch_for_are_400(buyer, fake_google_play, case):
    record = buyer.buy("android_5", state=2 if case == "pending" else 0)
    if case == "unknown token":
        record = {**record, "purchaseToken": "not-a-token-google-issued"}
    elif case == "another product":
        record = {**record, "productId": "android_10"}
    elif case == "another package":
        record = buyer.play.buy("android_5", account=buyer.user_id, package="com.other.app")
    elif case == "canceled":
        record = buyer.buy("android_5", state=1)
    response = buyer.redeem(record)
    assert response.status_code == 400, response.get_json()
    assert buyer.purchases() == [] and buyer.wallet()["coin_balance"] == 0


def test_a_pending_purchase_is_credited_once_paid(buyer, fake_google_play, store_app):
    record = buyer.buy("android_5", state=2)
    assert buyer.redeem(record).status_code == 400
    fake_google_play.complete(record["purchaseToken"])
    buyer.notify("purchased", record)
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 250


def test_a_product_that_is_not_an_android_pack_is_refused(buyer):
    assert buyer.redeem(buyer.buy("ios_5")).status_code == 400
    assert buyer.purchases() == []


def test_an_account_id_spelled_in_capitals_is_the_same_user(buyer, fake_google_play, store_app):
    record = fake_google_play.buy("android_5", account=buyer.user_id.upper())
    assert buyer.redeem(record).get_json()["wallet"]["coin_balance"] == 250
    other = fake_google_play.buy("android_5", account=buyer.user_id.replace("-", "").upper())
    buyer.notify("purchased", other)
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 500


def test_a_purchase_of_another_account_is_409(buyer, store_api, fake_google_play):
    record = buyer.buy("android_5")
    thief = GoogleBuyer(store_api, fake_google_play)
    assert thief.redeem(record).status_code == 409
    assert thief.wallet()["coin_balance"] == 0


def test_google_unavailable_is_502_and_nothing_is_written(buyer, fake_google_play):
    record = buyer.buy("android_5")
    fake_google_play.fail_next(1, 503)
    response = buyer.redeem(record)
    assert response.status_code == 502, response.get_json()
    assert buyer.purchases() == []
    assert buyer.redeem(record).get_json()["wallet"]["coin_balance"] == 250


def test_a_notification_job_retries_while_google_is_down(buyer, store_app, fake_google_play):
    from mylivelinks.jobs.payments import apply_payment_event

    record = buyer.buy("android_5")
    buyer.notify("purchased", record)
    with store_app.app_context():
        event_id = str(db.session.scalar(select(PaymentEvent.id)))
    fake_google_play.fail_next(1, 500)
    with store_app.app_context(), pytest.raises(PaymentUnavailable):
        apply_payment_event(event_id)
    assert event_statuses(store_app) == ["received"]
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 250


def test_without_configuration_google_play_answers_503(api, fake_google_play):
    buyer = GoogleBuyer(api, fake_google_play)
    record = buyer.buy("android_5")
    assert buyer.redeem(record).status_code == 503
    assert buyer.notify("purchased", record).status_code == 503
    assert google_play.PACKAGE  # the fake knows the package: only the app lacks it


def test_a_purchase_whose_consume_job_was_lost_is_swept_and_consumed_once(
    buyer, store_app, fake_google_play
):
    from mylivelinks.jobs.payments import finish_unfinished_store_purchases
    from mylivelinks.models import CoinPurchase

    record = buyer.buy("android_5")
    buyer.redeem(record)
    with store_app.app_context():
        get_redis().flushdb()  # the queued consume is lost
        assert finish_unfinished_store_purchases() == 0  # credited moments ago: in flight
        db.session.execute(
            text("UPDATE coin_purchases SET updated_at = updated_at - interval '6 minutes'")
        )
        assert finish_unfinished_store_purchases() == 1
    run_jobs(store_app)
    token = record["purchaseToken"]
    assert fake_google_play.purchases[token]["consumptionState"] == 1
    with store_app.app_context():
        assert finish_unfinished_store_purchases() == 0
        finished = db.session.scalar(select(CoinPurchase.store_finished_at))
        assert finished is not None
    consumes = [c for c in fake_google_play.calls if c[1].endswith(f"{token}:consume")]
    assert len(consumes) == 1


def test_the_sweep_is_on_the_cron_schedule(store_app):
    from rq.cron import CronScheduler

    with store_app.app_context():
        scheduler = CronScheduler(connection=get_redis())
        scheduler.load_config_from_file("mylivelinks.jobs.cron")
        jobs = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert jobs["finish_unfinished_store_purchases"].cron == "*/15 * * * *"
