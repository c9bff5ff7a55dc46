"""Reading a store's list of voided purchases on a schedule, so a refund or chargeback whose
notification never arrived still takes the coins back.

Each listed void is stored as the payment event its notification would have been, once per
order, with what the store listed as the event's store record, and applied by the job that
applies notifications (`jobs.payments.apply_payment_event`). The notification of the same
void and the listed one fold the same facts into the locked purchase, so the coins go back
once, whichever comes first or both at once.

A read asks for everything from its start to the store's own now (an end in the store's
future would be refused, and clocks differ), and records as read whole up to a minute
before its own now (`CLOCK_MARGIN`), in `store_sync_marks`, in the same transaction as
the events it found. The next read starts `OVERLAP` before that mark, since the store files
a void under the time it recorded it, which may reach its list a little late; what is
listed twice is stored once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models.payments import StoreSyncMark
from mylivelinks.payments.base import ListedVoid, PaymentProvider
from mylivelinks.payments.events import known_purchase, receive_event
from mylivelinks.transaction import end_read_only_transaction

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)
# Kept from the store's limits (its "now" and its oldest day), so a clock a little off is
# not refused.
CLOCK_MARGIN = timedelta(minutes=1)


@dataclass
class VoidedPoll:
    """What one read of a store's voided purchases found."""

    provider: str
    start: datetime
    end: datetime
    listed: int = 0  # entries the store listed in the window
    queued: int = 0  # stored as new events and queued to be applied
    already_stored: int = 0  # read before (the overlap, or a run that overlapped this one)
    unknown: int = 0  # about no purchase recorded here: skipped

    def summary(self) -> dict[str, Any]:
        """The counts and the window, as logged and returned by the job."""
        fields = asdict(self)
        fields.update(start=self.start.isoformat(), end=self.end.isoformat())
        return fields


def mark_name(provider: str) -> str:
    """The `store_sync_marks` row of `provider`'s voided purchases."""
    return f"{provider}:voided_purchases"


def synced_until(provider: str) -> datetime | None:
    """The end of the last window of `provider`'s voided purchases read whole, if any."""
    mark = db.session.get(StoreSyncMark, mark_name(provider))
    return mark.synced_until if mark else None


def poll_window(
    provider: PaymentProvider, now: datetime, first_lookback: timedelta
) -> tuple[datetime, datetime]:
    """Where the next read starts (a little before the last one's mark, or
    `first_lookback` ago the first time, within what the store lists) and the mark it
    leaves (a minute before now)."""
    end = now - CLOCK_MARGIN
    oldest = now - provider.voided_history + CLOCK_MARGIN
    last_end = synced_until(provider.name)
    start = now - first_lookback if last_end is None else last_end - OVERLAP
    if start < oldest:
        if last_end is not None:
            log.warning(
                "voided purchases were last read up to %s, before the oldest the store lists: "
                "voids recorded between then and %s cannot be read",
                last_end.isoformat(),
                oldest.isoformat(),
                extra={"provider": provider.name},
            )
        start = oldest
    return min(start, end - OVERLAP), end


def poll_voided_purchases(
    provider: PaymentProvider, first_lookback: timedelta, now: datetime | None = None
) -> VoidedPoll:
    """Read the voids `provider` listed since the last read and queue each one about a
    known purchase, then move the mark to the window's end (the caller commits)."""
    start, end = poll_window(provider, now or datetime.now(UTC), first_lookback)
    end_read_only_transaction()  # no transaction open while the store answers
    voids = provider.voided_purchases(start)  # up to the store's now, beyond `end`
    poll = VoidedPoll(provider=provider.name, start=start, end=end, listed=len(voids))
    for void in voids:
        _record(provider, void, poll)
    _advance_mark(provider.name, end)
    db.session.flush()
    return poll


def _record(provider: PaymentProvider, void: ListedVoid, poll: VoidedPoll) -> None:
    event = void.event
    found = provider.read_facts(event.event_type, event.payload, void.store_record)
    if found is None or known_purchase(provider.name, found) is None:
        # Not a purchase of this service (bought before it, or never reported by the app
        # nor notified): nothing to take back. A purchase reported later is verified with
        # the store, which then says it was refunded.
        log.info(
            "voided purchase of no known purchase skipped",
            extra={"provider": provider.name, "event_id": event.event_id},
        )
        poll.unknown += 1
        return
    if receive_event(event, void.raw_body, store_record=void.store_record) is None:
        poll.already_stored += 1
    else:
        poll.queued += 1


def _advance_mark(provider: str, end: datetime) -> None:
    """Move the mark to `end`; never back (two runs may end in either order)."""
    statement = insert(StoreSyncMark).values(name=mark_name(provider), synced_until=end)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[StoreSyncMark.name],
            set_={
                "synced_until": func.greatest(
                    StoreSyncMark.synced_until, statement.excluded.synced_until
                ),
                "updated_at": func.now(),
            },
        )
    )
