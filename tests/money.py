"""Helpers for the money tests: Stripe deliveries, running jobs, ledger invariants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import event, func, select

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.ledger.booking import TransferKind
from mylivelinks.ledger.reconciliation import reconcile
from mylivelinks.ledger.wallet import credit_coins
from mylivelinks.models import Gift, PaymentEvent
from mylivelinks.models.ledger import AccountKind
from tests.fakes import stripe_events

STRIPE_KEY = "sk_test_mylivelinks_0123456789"
WEBHOOK_SECRET = "whsec_test_mylivelinks_secret"


def deliver(client, evt: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """POST a signed Stripe delivery of `evt` to the webhook endpoint."""
    body, headers = stripe_events.signed_delivery(evt, secret, timestamp)
    return client.post("/api/v1/webhooks/stripe", data=body, headers=headers)


def run_jobs(app: Flask) -> int:
    """Run every queued job with a real RQ worker in burst mode; returns the jobs run."""
    with app.app_context():
        queue = Queue(DEFAULT_QUEUE, connection=get_redis())
        queued = queue.count
        SimpleWorker([queue], connection=get_redis()).work(burst=True)
        failed = queue.failed_job_registry.get_job_ids()
        assert not failed, f"jobs failed: {failed}"
        return queued


def stored_events(app: Flask) -> int:
    """How many payment events are stored."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(PaymentEvent))


def assert_ledger_consistent(app: Flask) -> None:
    """Every cached balance equals the sum of its entries, and all entries sum to zero."""
    with app.app_context():
        run = reconcile()
        assert run.ok, run.mismatches
        assert run.entries_total == 0 and run.balances_total == 0


class StripeBuyer:
    """A registered user buying coin packs through checkout and the fake Stripe."""

    def __init__(self, api, fake, username: str | None = None):
        self.api, self.fake = api, fake
        self.session = api.register(username)
        self.headers = api.auth(self.session)

    @property
    def user_id(self) -> str:
        """The buyer's profile id."""
        return self.session["user"]["id"]

    def checkout(self, pack_id: str = "web_5") -> dict:
        """Start a checkout; returns the pending purchase plus its Stripe session id."""
        response = self.api.post(
            "/api/v1/coins/checkout", json={"pack_id": pack_id}, headers=self.headers
        )
        assert response.status_code == 201, response.get_json()
        purchase = response.get_json()["purchase"]
        session = next(
            s
            for s in self.fake.sessions.values()
            if s["metadata"].get("purchase_id") == purchase["id"]
        )
        return {**purchase, "session_id": session["id"]}

    def pay(self, purchase: dict) -> dict:
        """Complete the session at Stripe; returns the checkout.session.completed event."""
        session = self.fake.complete_session(purchase["session_id"])
        purchase["payment_intent"] = session["payment_intent"]
        return stripe_events.event("checkout.session.completed", session)

    def wallet(self) -> dict:
        """GET /me/wallet."""
        return self.api.get("/api/v1/me/wallet", headers=self.headers).get_json()

    def purchase(self, purchase_id: str) -> dict:
        """The purchase as GET /coins/purchases shows it."""
        items = self.api.get("/api/v1/coins/purchases?limit=100", headers=self.headers)
        return next(p for p in items.get_json()["items"] if p["id"] == purchase_id)


def refund_event(purchase: dict, refunded_cents: int) -> dict:
    """charge.refunded with the cumulative refunded amount."""
    charge = stripe_events.charge(
        stripe_events.new_id("ch"),
        payment_intent=purchase["payment_intent"],
        amount=purchase["price_cents"],
        amount_refunded=refunded_cents,
        metadata={"purchase_id": purchase["id"]},
    )
    return stripe_events.event("charge.refunded", charge)


def dispute_event(purchase: dict, event_type: str, status: str = "needs_response") -> dict:
    """A charge.dispute.* event about the purchase's payment."""
    dispute = stripe_events.dispute(
        stripe_events.new_id("dp"),
        charge=stripe_events.new_id("ch"),
        payment_intent=purchase["payment_intent"],
        amount=purchase["price_cents"],
        status=status,
    )
    return stripe_events.event(event_type, dispute)


GIFTS = "/api/v1/gifts"


def grant(app: Flask, session: dict, coins: int) -> None:
    """Give a registered user `coins` (an adjustment booked through the ledger)."""
    with app.app_context():
        credit_coins(
            uuid.UUID(session["user"]["id"]),
            coins,
            source_kind=AccountKind.ADJUSTMENTS,
            kind=TransferKind.ADJUSTMENT,
            source_ref=str(uuid.uuid4()),
        )
        db.session.commit()


def gift_type(api, name: str) -> dict:
    """The catalog entry called `name`."""
    return next(g for g in api.get(GIFTS).get_json()["items"] if g["name"] == name)


def send_gift(
    api, sender: dict, name: str = "Rose", quantity: int = 1, headers=None, mode=None, **target
):
    """POST /gifts of `quantity` x `name` to `target` (room + position, or recipient); in
    `mode` "one_transaction" with a fresh Idempotency-Key (see the `gift_mode` fixture)."""
    body = {"gift_type_id": gift_type(api, name)["id"], "quantity": quantity, **target}
    headers = {**api.auth(sender), **mode_headers(mode), **(headers or {})}
    return api.post(GIFTS, json=body, headers=headers)


def mode_headers(mode: str | None) -> dict[str, str]:
    """The headers that make a gift commit in `mode` (autocommit: none)."""
    return {"Idempotency-Key": str(uuid.uuid4())} if mode == "one_transaction" else {}


@contextmanager
def isolation_levels_set(app: Flask) -> Iterator[list[str]]:
    """The isolation levels connections of the app's engine were switched to meanwhile."""
    levels: list[str] = []

    def record(connection, options) -> None:
        if "isolation_level" in options:
            levels.append(options["isolation_level"])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "set_connection_execution_options", record)
    try:
        yield levels
    finally:
        event.remove(engine, "set_connection_execution_options", record)


def live_streamer(api, position: int = 1) -> dict:
    """A new user live in box `position` of `main`."""
    streamer = api.register()
    api.post("/api/v1/rooms/main/live", json={"position": position}, headers=api.auth(streamer))
    return streamer


def wallet_of(api, session) -> dict:
    """GET /me/wallet of `session`."""
    return api.get("/api/v1/me/wallet", headers=api.auth(session)).get_json()


def gift_count(app) -> int:
    """Gifts in the database."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Gift))
