"""What a provider event tells us about a payment, in provider-neutral terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mylivelinks.models.payments import DisputeState

# Stores that report a refunded share rather than an amount report it in these parts
# (Apple's `revocationPercentage` is in milliunits of a percent: 100000 is all of it).
WHOLE_SHARE = 100_000


@dataclass(frozen=True)
class PaymentFacts:
    """Facts carried by one webhook event; None means the event does not say."""

    purchase_id: str | None = None
    payment_id: str | None = None
    paid_cents: int | None = None
    paid_currency: str | None = None
    refunded_cents: int | None = None  # cumulative, as the stores report it
    dispute: DisputeState | None = None  # OPEN, WON or LOST (a store never reports NONE)
    # In-app stores: the store's id of what was bought (Google's purchase token), the
    # product (a pack id), and the buyer the app named at purchase time (a profile id).
    session_id: str | None = None
    product_id: str | None = None
    buyer_id: str | None = None
    # The store vouches the product was paid at the price it sells it for: the pack's price.
    store_paid: bool = False
    refunded_share: int | None = None  # of WHOLE_SHARE; the current state, not cumulative
    # The store's time of these facts: a refund state is replaced only by a newer one
    # (a store may undo a refund); without it refunds only grow.
    reported_at: datetime | None = None
