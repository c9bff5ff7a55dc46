"""Applying payment webhooks, and the sweeper that re-enqueues the ones left behind."""

from __future__ import annotations

import logging
import uuid

from rq import Retry

from mylivelinks.extensions import get_queue
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.context import job
from mylivelinks.payments.events import process_event, record_failure, stuck_event_ids

log = logging.getLogger(__name__)


def enqueue_payment_event(event_id: uuid.UUID) -> None:
    """Queue the application of a stored event (one job id per event)."""
    get_queue(DEFAULT_QUEUE).enqueue(
        apply_payment_event,
        str(event_id),
        job_id=f"payment-event-{event_id}",
        retry=Retry(max=5, interval=[5, 30, 120, 600, 1800]),
    )


def apply_payment_event(event_id: str) -> str | None:
    """Apply one stored payment event (a no-op when it was already applied).

    A failure is counted on the event in its own transaction and re-raised for RQ's retry;
    after MAX_ATTEMPTS the event is marked failed and the sweeper leaves it alone.
    """
    try:
        return _apply(event_id)
    except Exception as exc:
        _record_failure(event_id, f"{type(exc).__name__}: {exc}")
        raise


@job
def _apply(event_id: str) -> str | None:
    return process_event(uuid.UUID(event_id))


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
