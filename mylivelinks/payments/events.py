"""Storing provider webhooks and applying them to purchases, exactly once, in any order.

A stored event is applied by the job `jobs.payments.apply_payment_event`, queued by its
dotted name through `jobs.enqueue` (which imports no service): the job module imports this
one, and this one never imports the job module.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.jobs.enqueue import enqueue_payment_event
from mylivelinks.models.payments import (
    CoinPurchase,
    PaymentEvent,
    PaymentEventStatus,
)
from mylivelinks.payments import payment_provider
from mylivelinks.payments.base import VerifiedPaymentEvent
from mylivelinks.payments.facts import PaymentFacts
from mylivelinks.payments.merge import merge_facts
from mylivelinks.payments.store_purchases import purchase_from_store_facts, settle_and_finish
from mylivelinks.transaction import after_commit, end_read_only_transaction

# Statuses after which an event is never applied again.
DONE = (PaymentEventStatus.PROCESSED, PaymentEventStatus.IGNORED)
STUCK_AFTER = timedelta(minutes=2)
MAX_ATTEMPTS = 10


def _without_nul(value: Any) -> Any:
    # PostgreSQL's jsonb cannot hold U+0000; the raw body keeps the original bytes.
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _store_event(
    provider: str,
    event_id: str,
    event_type: str,
    payment_ref: str | None,
    payload: dict[str, Any],
    raw_body: bytes,
    store_record: dict[str, Any] | None,
) -> uuid.UUID | None:
    """Insert a verified webhook; returns its row id, or None when it was already stored."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "provider": provider,
        "event_id": event_id,
        "event_type": event_type,
        "payment_ref": payment_ref,
        "payload": _without_nul(payload),
        "raw_body": raw_body,
    }
    if store_record is not None:  # else SQL NULL (None would be stored as JSON null)
        values["store_record"] = _without_nul(store_record)
    return db.session.execute(
        insert(PaymentEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(PaymentEvent.id)
    ).scalar()


def receive_event(
    event: VerifiedPaymentEvent, raw_body: bytes, store_record: dict[str, Any] | None = None
) -> uuid.UUID | None:
    """Store a verified webhook event and, once committed, queue its application.

    Returns the stored row's id, or None when the event was already stored (a redelivery).
    `store_record` is what the store already said about its purchase (a void read from
    the store's list), so the job need not ask again.
    """
    stored = _store_event(
        event.provider,
        event.event_id,
        event.event_type,
        event.payment_ref,
        event.payload,
        raw_body,
        store_record,
    )
    if stored is not None:
        after_commit(lambda: enqueue_payment_event(stored))
    return stored


def _purchase_for(provider: str, found: PaymentFacts, *, lock: bool = True) -> CoinPurchase | None:
    conditions = []
    if found.purchase_id:
        with contextlib.suppress(ValueError):  # a malformed id simply links nothing
            conditions.append(CoinPurchase.id == uuid.UUID(found.purchase_id))
    if found.payment_id:
        conditions.append(CoinPurchase.provider_payment_id == found.payment_id)
    if found.session_id:
        conditions.append(CoinPurchase.provider_session_id == found.session_id)
    if not conditions:
        return None
    query = select(CoinPurchase).where(CoinPurchase.provider == provider, or_(*conditions))
    return db.session.scalar(query.with_for_update() if lock else query)


def known_purchase(provider: str, found: PaymentFacts) -> CoinPurchase | None:
    """The purchase `found` names, if one is recorded (read without a lock)."""
    return _purchase_for(provider, found, lock=False)


def apply_event(event: PaymentEvent) -> PaymentEventStatus:
    """Apply one stored event (its row locked); returns its new status."""
    found = payment_provider(event.provider).read_facts(
        event.event_type, event.payload, event.store_record
    )
    if found is None:
        return PaymentEventStatus.IGNORED
    purchase = _purchase_for(event.provider, found) or purchase_from_store_facts(
        event.provider, found
    )
    if purchase is None:
        # Nothing links it to a purchase yet (a dispute before the payment was seen, a store
        # notification naming no buyer before the app reported the purchase): it is applied
        # when an event naming the same payment arrives, or the app's report.
        return PaymentEventStatus.DEFERRED
    merge_facts(purchase, found)
    settle_and_finish(purchase)
    return PaymentEventStatus.PROCESSED


def process_event(event_id: uuid.UUID) -> PaymentEventStatus | None:
    """Lock and apply one event, then any deferred events of the same payment."""
    event = db.session.scalar(
        select(PaymentEvent).where(PaymentEvent.id == event_id).with_for_update()
    )
    if event is None or event.status in DONE:
        return None
    _mark(event, apply_event(event))
    if event.status == PaymentEventStatus.PROCESSED and event.payment_ref:
        waiting = db.session.scalars(
            select(PaymentEvent)
            .where(
                PaymentEvent.provider == event.provider,
                PaymentEvent.payment_ref == event.payment_ref,
                PaymentEvent.status == PaymentEventStatus.DEFERRED,
            )
            .order_by(PaymentEvent.received_at)
            .with_for_update(skip_locked=True)
        ).all()
        for deferred in waiting:
            _mark(deferred, apply_event(deferred))
    db.session.flush()
    return event.status


def _mark(event: PaymentEvent, status: PaymentEventStatus) -> None:
    event.status = status
    if status in DONE:
        event.processed_at = datetime.now(UTC)


def record_failure(event_id: uuid.UUID, error: str) -> None:
    """Count a failed attempt; after MAX_ATTEMPTS the event is marked failed for a human."""
    event = db.session.get(PaymentEvent, event_id, with_for_update=True)
    if event is None or event.status in DONE:
        return
    event.attempts += 1
    event.error = error[:2000]
    if event.attempts >= MAX_ATTEMPTS:
        event.status = PaymentEventStatus.FAILED
    db.session.flush()


def stuck_event_ids(now: datetime | None = None) -> list[uuid.UUID]:
    """Events received but not applied for STUCK_AFTER, or deferred ones that can now apply."""
    cutoff = (now or datetime.now(UTC)) - STUCK_AFTER
    linkable = select(CoinPurchase.provider_payment_id).where(
        CoinPurchase.provider == PaymentEvent.provider,
        CoinPurchase.provider_payment_id.is_not(None),
    )
    linkable_by_session = select(CoinPurchase.provider_session_id).where(
        CoinPurchase.provider == PaymentEvent.provider,
        CoinPurchase.provider_session_id.is_not(None),
    )
    return list(
        db.session.scalars(
            select(PaymentEvent.id)
            .where(
                or_(
                    (PaymentEvent.status == PaymentEventStatus.RECEIVED)
                    & (PaymentEvent.received_at < cutoff),
                    (PaymentEvent.status == PaymentEventStatus.DEFERRED)
                    & (
                        PaymentEvent.payment_ref.in_(linkable)
                        | PaymentEvent.payment_ref.in_(linkable_by_session)
                    ),
                )
            )
            .order_by(PaymentEvent.received_at)
        )
    )


def failed_event_count() -> int:
    """How many events are parked as failed."""
    failed = PaymentEvent.status == PaymentEventStatus.FAILED
    return db.session.scalar(select(func.count()).select_from(PaymentEvent).where(failed)) or 0


def look_up_event(event_id: uuid.UUID) -> None:
    """Ask the store about the purchase an event names, where its adapter needs to, and keep
    the answer with the event. The store is called with no transaction open."""
    event = db.session.get(PaymentEvent, event_id)
    if event is None or event.status in DONE or event.store_record is not None:
        return
    provider, event_type, payload = event.provider, event.event_type, event.payload
    end_read_only_transaction()
    record = payment_provider(provider).look_up(event_type, payload)
    if record is not None:
        db.session.execute(
            update(PaymentEvent)
            .where(PaymentEvent.id == event_id, PaymentEvent.store_record.is_(None))
            .values(store_record=_without_nul(record))
        )
        db.session.flush()


def answer_event(event_id: uuid.UUID) -> None:
    """Give the store the answer an applied event asks for (Apple's consumption requests),
    from the committed state, with no transaction open during the call."""
    event = db.session.get(PaymentEvent, event_id)
    if event is None or event.status not in DONE:
        return
    provider = payment_provider(event.provider)
    found = provider.read_facts(event.event_type, event.payload, event.store_record)
    purchase = None
    if found is not None:
        purchase = _purchase_for(event.provider, found, lock=False)
        if purchase is not None:
            db.session.expunge(purchase)  # read after the transaction ends
    event_type, payload = event.event_type, event.payload
    end_read_only_transaction()
    provider.answer_event(event_type, payload, purchase)
