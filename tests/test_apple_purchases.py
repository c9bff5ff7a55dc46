"""App Store purchases end to end: StoreKit 2 transactions and App Store Server
Notifications signed by a test chain made like Apple's, verified by Apple's library with
its strict and online (OCSP) checks, a real RQ worker, the one purchase state machine."""

from __future__ import annotations

import itertools

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from mylivelinks import create_app
from mylivelinks.config import Config, ConfigError
from mylivelinks.extensions import db
from mylivelinks.models import PaymentEvent
from tests.conftest import TEST_SECRET_KEY, make_config
from tests.fakes import apple_store
from tests.fakes.apple_store import ApplePki, now_ms
from tests.helpers import ApiClient
from tests.money import assert_ledger_consistent, run_jobs, send_gift, stored_events
from tests.store_money import AppleBuyer, apple_body


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(store_app):
    yield
    assert_ledger_consistent(store_app)


@pytest.fixture
def buyer(store_api, fake_app_store) -> AppleBuyer:
    return AppleBuyer(store_api, fake_app_store)


def event_statuses(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(select(PaymentEvent.status).order_by(PaymentEvent.received_at))
        )


def test_a_redeemed_transaction_credits_once_and_answers_the_wallet(buyer, store_app):
    claims = buyer.buy("ios_5")  # $5: 250 coins
    signed = buyer.pki.sign(claims)
    first = buyer.redeem(signed)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["wallet"] == {
        "coin_balance": 250,
        "earnings_balance_centicoins": 0,
        "frozen": False,
        "debt_coins": 0,
    }
    assert (body["purchase"]["provider"], body["purchase"]["platform"]) == ("apple", "ios")
    assert (body["purchase"]["status"], body["purchase"]["coins_credited"]) == ("confirmed", 250)
    again = buyer.redeem(signed)
    assert again.status_code == 200
    assert again.get_json()["purchase"]["id"] == body["purchase"]["id"]
    assert buyer.notify("ONE_TIME_CHARGE", claims).get_json() == {
        "received": True,
        "duplicate": False,
    }
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 250
    history = buyer.api.get("/api/v1/me/ledger", headers=buyer.headers).get_json()["items"]
    assert [(e["kind"], e["amount_centicoins"]) for e in history] == [("purchase", 25000)]
    assert event_statuses(store_app) == ["processed"]


def test_a_notification_credits_when_the_app_never_reported(buyer, store_app):
    claims = buyer.buy("ios_10")
    assert buyer.notify("ONE_TIME_CHARGE", claims).status_code == 200
    assert buyer.wallet()["coin_balance"] == 0  # applied by the job, not the request
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 500
    assert buyer.only_purchase()["status"] == "confirmed"
    assert buyer.redeem(buyer.pki.sign(claims)).get_json()["wallet"]["coin_balance"] == 500


def test_a_notification_naming_no_account_waits_for_the_app(buyer, store_app):
    claims = buyer.buy("ios_5", account=False)
    buyer.notify("ONE_TIME_CHARGE", claims)
    run_jobs(store_app)
    assert event_statuses(store_app) == ["deferred"]
    assert buyer.wallet()["coin_balance"] == 0
    redeemed = buyer.redeem(buyer.pki.sign(claims))
    assert redeemed.get_json()["wallet"]["coin_balance"] == 250
    assert run_jobs(store_app) == 1  # the waiting notification, queued once the app reported
    assert event_statuses(store_app) == ["processed"]
    assert buyer.wallet()["coin_balance"] == 250


def test_refund_takes_the_coins_back_and_a_reversed_refund_restores_them(buyer, store_app):
    claims = buyer.buy("ios_5")
    buyer.redeem(buyer.pki.sign(claims))
    refunded = {**claims, "revocationDate": now_ms(), "revocationReason": 0}
    buyer.notify("REFUND", refunded)
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 0
    assert buyer.only_purchase()["status"] == "refunded"
    buyer.notify("REFUND_DECLINED", claims)  # about another request: changes nothing
    buyer.notify("REFUND_REVERSED", claims)
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 250
    state = buyer.only_purchase()
    assert (state["status"], state["coins_reversed"]) == ("confirmed", 0)
    buyer.notify("REFUND", refunded)  # refunded again later: taken again, booked anew
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 0
    history = buyer.api.get("/api/v1/me/ledger", headers=buyer.headers).get_json()["items"]
    kinds = sorted(e["kind"] for e in history)
    assert kinds == ["purchase", "purchase_restore", "purchase_reversal", "purchase_reversal"]


def test_a_prorated_refund_takes_back_its_share(buyer, store_app):
    claims = buyer.buy("ios_10")  # 500 coins
    buyer.redeem(buyer.pki.sign(claims))
    buyer.notify(
        "REFUND",
        {
            **claims,
            "revocationDate": now_ms(),
            "revocationType": "REFUND_PRORATED",
            "revocationPercentage": 40000,  # 40 % in milliunits
        },
    )
    run_jobs(store_app)
    state = buyer.only_purchase()
    assert (state["status"], state["refunded_cents"], state["coins_reversed"]) == (
        "partially_refunded",
        400,
        200,
    )
    assert buyer.wallet()["coin_balance"] == 300


def test_every_order_of_purchase_refund_and_reversal_reaches_one_state(store_api, fake_app_store):
    outcomes, wallets = set(), set()
    for order in itertools.permutations(range(3)):
        buyer = AppleBuyer(store_api, fake_app_store)
        claims = buyer.buy("ios_5")
        start = now_ms()
        refunded = {**claims, "revocationDate": start + 1000}
        events = [  # as the App Store signed them: paid, refunded, refund reversed
            ("ONE_TIME_CHARGE", claims, start),
            ("REFUND", refunded, start + 1000),
            ("REFUND_REVERSED", claims, start + 2000),
        ]
        for index in order:
            kind, transaction, signed_at = events[index]
            assert buyer.notify(kind, transaction, signed_at=signed_at).status_code == 200
            run_jobs(store_api.app)
        state = buyer.only_purchase()
        outcomes.add((state["status"], state["refunded_cents"], state["coins_reversed"]))
        wallets.add(tuple(sorted(buyer.wallet().items())))
    assert outcomes == {("confirmed", 0, 0)}
    assert wallets == {
        (
            ("coin_balance", 250),
            ("debt_coins", 0),
            ("earnings_balance_centicoins", 0),
            ("frozen", False),
        )
    }


def test_refund_after_spending_books_debt_freezes_and_the_next_purchase_repays(
    buyer, store_app, main_room
):
    star = {"recipient": buyer.api.register()["user"]["username"]}
    claims = buyer.buy("ios_5")  # 250 coins
    buyer.redeem(buyer.pki.sign(claims))
    spent = send_gift(buyer.api, buyer.session, "Rose", 200, **star)  # 1 coin each
    assert spent.status_code == 201, spent.get_json()
    buyer.notify("REFUND", {**claims, "revocationDate": now_ms()})
    run_jobs(store_app)
    assert buyer.wallet() == {
        "coin_balance": 0,
        "earnings_balance_centicoins": 0,
        "frozen": True,
        "debt_coins": 200,
    }
    assert send_gift(buyer.api, buyer.session, "Rose", 1, **star).status_code == 403
    again = buyer.redeem(buyer.pki.sign(buyer.buy("ios_5")))
    assert again.get_json()["wallet"] == {
        "coin_balance": 50,
        "earnings_balance_centicoins": 0,
        "frozen": False,
        "debt_coins": 0,
    }
    assert send_gift(buyer.api, buyer.session, "Rose", 1, **star).status_code == 201


def test_a_consumption_request_is_answered_through_the_app_store_server_api(
    buyer, store_app, fake_app_store
):
    claims = buyer.buy("ios_5")
    buyer.redeem(buyer.pki.sign(claims))
    buyer.notify("CONSUMPTION_REQUEST", claims)
    run_jobs(store_app)
    assert fake_app_store.consumption == [
        (
            claims["transactionId"],
            {
                "customerConsented": True,
                "sampleContentProvided": False,
                "deliveryStatus": "DELIVERED",
            },
        )
    ]


def test_without_consent_a_consumption_request_is_only_logged(
    store_app, server_urls, fake_app_store, caplog
):
    fake_app_store.consumption.clear()
    settings = {**_settings_of(store_app), "APPLE_CONSUMPTION_CONSENT": "false"}
    api = ApiClient(create_app(make_config(server_urls, **settings)))
    buyer = AppleBuyer(api, fake_app_store)
    claims = buyer.buy("ios_5")
    buyer.redeem(buyer.pki.sign(claims))
    buyer.notify("CONSUMPTION_REQUEST", claims)
    run_jobs(api.app)
    assert fake_app_store.consumption == []
    assert "consumption request not answered" in caplog.text
    assert event_statuses(api.app) == ["processed"]


def _other_key_signature(pki: ApplePki, claims: dict) -> str:
    return pki.sign(claims, key=ec.generate_private_key(ec.SECP256R1()))


ATTACKS = {
    "forged signature": lambda pki, c: _other_key_signature(pki, c),
    "byte changed": lambda pki, c: _changed_payload(pki.sign(c)),
    "wrong bundle": lambda pki, c: pki.sign({**c, "bundleId": "com.someone.else"}),
    "sandbox data": lambda pki, c: pki.sign({**c, "environment": "Sandbox"}),
    "chain of two": lambda pki, c: pki.sign(c, x5c=pki.x5c()[:2]),
    "chain of four": lambda pki, c: pki.sign(c, x5c=[*pki.x5c(), pki.x5c()[2]]),
    "untrusted root": lambda pki, c: ApplePki.create().sign(c),
    "unsigned": lambda pki, c: jwt.encode(c, "", algorithm="none"),
    "HS256": lambda pki, c: jwt.encode(c, "x" * 32, algorithm="HS256", headers={"x5c": pki.x5c()}),
}


def _changed_payload(token: str) -> str:
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["productId"] = "ios_1000"
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256").split(".")[1]
    return ".".join([header, forged, signature])


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_on_a_transaction_are_400_and_store_nothing(buyer, store_app, attack):
    claims = buyer.buy("ios_5")
    signed = ATTACKS[attack](buyer.pki, claims)
    response = buyer.redeem(signed)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["code"] == 400
    before = stored_events(store_app)
    notification = apple_store.notification(buyer.pki, "ONE_TIME_CHARGE", signed)
    for payload in (notification, {**notification, "data": {**notification["data"]}}):
        body = {"signedPayload": ATTACKS[attack](buyer.pki, payload)}
        answered = buyer.api.post("/api/v1/webhooks/apple", json=body)
        assert answered.status_code == 400, answered.get_json()
    # A notification signed properly but carrying the attacked transaction is refused too.
    wrapped = {"signedPayload": buyer.pki.sign(notification)}
    assert buyer.api.post("/api/v1/webhooks/apple", json=wrapped).status_code == 400
    assert stored_events(store_app) == before
    assert run_jobs(store_app) == 0
    assert buyer.purchases() == [] and buyer.wallet()["coin_balance"] == 0


def test_a_revoked_signing_certificate_is_refused(store_api, fake_app_store, server_urls, tmp_path):
    pki = ApplePki.create(fake_app_store.ocsp_url)
    previous, fake_app_store.pki = fake_app_store.pki, pki
    try:
        settings = {
            **_settings_of(store_api.app),
            "APPLE_ROOT_CERTIFICATES_DIR": str(pki.write_root(tmp_path)),
        }
        api = ApiClient(create_app(make_config(server_urls, **settings)))
        buyer = AppleBuyer(api, fake_app_store)
        claims = buyer.buy("ios_5")
        assert buyer.redeem(pki.sign(claims)).status_code == 200
        pki.revoked.add(pki.leaf.cert.serial_number)
        other = AppleBuyer(
            ApiClient(create_app(make_config(server_urls, **settings))), fake_app_store
        )
        assert other.redeem(pki.sign(other.buy("ios_5"))).status_code == 400
        assert (
            other.api.post(
                "/api/v1/webhooks/apple",
                json=apple_body(pki, "ONE_TIME_CHARGE", other.buy("ios_5")),
            ).status_code
            == 400
        )
    finally:
        fake_app_store.pki = previous


def _settings_of(app) -> dict[str, str]:
    names = [n for n in app.config if n.startswith(("APPLE_", "GOOGLE_"))]
    values = {n: app.config[n] for n in names if app.config[n] is not None}
    return {n: str(v).lower() if isinstance(v, bool) else str(v) for n, v in values.items()}


@pytest.mark.parametrize("product_id", ["web_5", "android_5", "ios_7"])
def test_a_product_that_is_not_an_ios_pack_is_refused(buyer, product_id):
    response = buyer.redeem(buyer.pki.sign(buyer.buy(product_id)))
    assert response.status_code == 400
    assert buyer.purchases() == []


def test_a_transaction_bought_or_redeemed_by_another_account_is_409(
    buyer, store_api, fake_app_store
):
    claims = buyer.buy("ios_5")
    thief = AppleBuyer(store_api, fake_app_store)
    assert thief.redeem(buyer.pki.sign(claims)).status_code == 409
    anonymous = buyer.buy("ios_5", account=False)
    assert buyer.redeem(buyer.pki.sign(anonymous)).status_code == 200
    assert thief.redeem(buyer.pki.sign(anonymous)).status_code == 409
    assert thief.wallet()["coin_balance"] == 0 and buyer.wallet()["coin_balance"] == 250


def test_test_notifications_and_unrelated_types_are_stored_and_ignored(buyer, store_app):
    test = apple_store.notification(buyer.pki, "TEST", None)
    assert (
        buyer.api.post(
            "/api/v1/webhooks/apple", json={"signedPayload": buyer.pki.sign(test)}
        ).status_code
        == 200
    )
    buyer.notify("DID_RENEW", buyer.buy("ios_5"))
    run_jobs(store_app)
    assert event_statuses(store_app) == ["ignored", "ignored"]
    assert buyer.wallet()["coin_balance"] == 0


@pytest.mark.parametrize("body", [b"{}", b"[1]", b"{", b'{"signedPayload": 7}'])
def test_a_body_that_is_not_a_notification_is_400(store_api, store_app, body):
    response = store_api.post(
        "/api/v1/webhooks/apple", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert stored_events(store_app) == 0


def test_without_configuration_the_app_store_endpoints_answer_503(api, fake_app_store):
    buyer = AppleBuyer(api, fake_app_store)
    claims = buyer.buy("ios_5")
    response = buyer.redeem(buyer.pki.sign(claims))
    assert response.status_code == 503 and response.get_json()["code"] == 503
    assert buyer.notify("ONE_TIME_CHARGE", claims).status_code == 503


@pytest.mark.parametrize("environment", ["Xcode", "LocalTesting"])
def test_unsigned_environments_are_refused_in_production(server_urls, environment):
    with pytest.raises(ConfigError, match="APPLE_ENVIRONMENT"):
        Config(
            {
                **server_urls,
                "APP_ENV": "production",
                "SECRET_KEY": TEST_SECRET_KEY,
                "APPLE_BUNDLE_ID": apple_store.BUNDLE_ID,
                "APPLE_ENVIRONMENT": environment,
            }
        )
    with pytest.raises(ConfigError, match="APPLE_APP_APPLE_ID"):
        Config(
            {
                **server_urls,
                "SECRET_KEY": TEST_SECRET_KEY,
                "APPLE_BUNDLE_ID": apple_store.BUNDLE_ID,
            }
        )
