"""What a provider event tells us about a payment, in provider-neutral terms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentFacts:
    """Facts carried by one webhook event; None means the event does not say."""

    purchase_id: str | None = None
    payment_id: str | None = None
    paid_cents: int | None = None
    paid_currency: str | None = None
    refunded_cents: int | None = None
    dispute: str | None = None  # "open", "won" or "lost"
