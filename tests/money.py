"""Helpers for the money tests: Stripe deliveries, running jobs, ledger invariants."""

from __future__ import annotations

from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.ledger.reconciliation import reconcile
from mylivelinks.models import PaymentEvent
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
