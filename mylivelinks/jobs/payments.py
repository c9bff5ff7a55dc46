"""Applying payment webhooks, and the sweeper that re-enqueues the ones left behind.

`payments.events.receive_event` queues `apply_payment_event` by its dotted name
(`jobs.enqueue`) once the event is committed; this module calls into payments and is never
imported by it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from mylivelinks.extensions import db
from mylivelinks.jobs.context import job
from mylivelinks.jobs.enqueue import enqueue_finish_purchase, enqueue_payment_event
from mylivelinks.models import CoinPurchase
from mylivelinks.payments import payment_provider
from mylivelinks.payments.events import (
    answer_event,
    look_up_event,
    process_event,
    record_failure,
    stuck_event_ids,
)
from mylivelinks.payments.store_purchases import mark_finished, unfinished_purchase_ids
from mylivelinks.payments.voided_poll import poll_voided_purchases
from mylivelinks.transaction import end_read_only_transaction

log = logging.getLogger(__name__)


def apply_payment_event(event_id: str) -> str | None:
    """Apply one stored payment event (a no-op when it was already applied).

    A failure is counted on the event in its own transaction and re-raised for RQ's retry;
    after MAX_ATTEMPTS the event is marked failed and the sweeper leaves it alone.
    """
    try:
        _look_up(event_id)
        status = _apply(event_id)
        _answer(event_id)
        return status
    except Exception as exc:
        _record_failure(event_id, f"{type(exc).__name__}: {exc}")
        raise


@job
def _look_up(event_id: str) -> None:
    look_up_event(uuid.UUID(event_id))


@job
def _apply(event_id: str) -> str | None:
    return process_event(uuid.UUID(event_id))


@job
def _answer(event_id: str) -> None:
    answer_event(uuid.UUID(event_id))


@job
def finish_store_purchase(purchase_id: str) -> None:
    """Confirm a credited in-app purchase to its store (Google: consume it); idempotent."""
    purchase = db.session.get(CoinPurchase, uuid.UUID(purchase_id))
    if purchase is None or purchase.store_finished_at is not None:
        return
    db.session.expunge(purchase)
    end_read_only_transaction()
    payment_provider(purchase.provider).finish_purchase(purchase)
    mark_finished(purchase.id)


@job
def finish_unfinished_store_purchases() -> int:
    """Queue the store confirmation of credited purchases whose job was lost."""
    ids = unfinished_purchase_ids()
    for purchase_id in ids:
        enqueue_finish_purchase(purchase_id)
    if ids:
        log.warning("re-enqueued unfinished store purchases", extra={"count": len(ids)})
    return len(ids)


@job
def _record_failure(event_id: str, error: str) -> None:
    record_failure(uuid.UUID(event_id), error)


@job
def requeue_stuck_payment_events() -> int:
    """Re-enqueue events stuck unapplied (lost jobs, a flushed Redis, a crashed worker)."""
    ids = stuck_event_ids()
    for event_id in ids:
        enqueue_payment_event(event_id)
    if ids:
        log.warning("re-enqueued stuck payment events", extra={"count": len(ids)})
    return len(ids)


@job
def poll_google_voided_purchases(now: datetime | None = None) -> dict[str, Any] | None:
    """Read Google Play's voided purchases since the last read and queue each refund or
    chargeback of a known purchase (the notification's safety net); None, without asking
    anyone, when Google Play is not configured."""
    provider = payment_provider("google")
    if not provider.lists_voided_purchases():
        return None
    lookback = timedelta(days=current_app.config["GOOGLE_VOIDED_LOOKBACK_DAYS"])
    try:
        poll = poll_voided_purchases(provider, lookback, now=now)
    except Exception:
        log.warning("reading Google Play's voided purchases failed", exc_info=True)
        raise
    summary = poll.summary()
    log.info(
        "voided purchases read: %d listed, %d queued, %d already stored, %d unknown",
        poll.listed,
        poll.queued,
        poll.already_stored,
        poll.unknown,
        extra=summary,
    )
    return summary
