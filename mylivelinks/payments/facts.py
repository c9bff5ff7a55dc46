"""What a provider event tells us about a payment, in provider-neutral terms."""

from __future__ import annotations

from dataclasses import dataclass

from mylivelinks.models.payments import DisputeState


@dataclass(frozen=True)
class PaymentFacts:
    """Facts carried by one webhook event; None means the event does not say."""

    purchase_id: str | None = None
    payment_id: str | None = None
    paid_cents: int | None = None
    paid_currency: str | None = None
    refunded_cents: int | None = None  # cumulative, as the stores report it
    dispute: DisputeState | None = None  # OPEN, WON or LOST (a store never reports NONE)
