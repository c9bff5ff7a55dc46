"""Folding a store's facts into a purchase row, so any order of events ends the same."""

from __future__ import annotations

from mylivelinks.models.payments import CoinPurchase, DisputeState
from mylivelinks.payments.facts import WHOLE_SHARE, PaymentFacts


def _refunded_cents(purchase: CoinPurchase, found: PaymentFacts) -> int | None:
    if found.refunded_share is not None:
        share = max(0, min(found.refunded_share, WHOLE_SHARE))
        return purchase.price_cents * share // WHOLE_SHARE
    return found.refunded_cents


def merge_facts(purchase: CoinPurchase, found: PaymentFacts) -> None:
    """Record what `found` adds to the purchase's facts (call with the row locked)."""
    if found.payment_id and purchase.provider_payment_id is None:
        purchase.provider_payment_id = found.payment_id
    if found.session_id and purchase.provider_session_id is None:
        purchase.provider_session_id = found.session_id
    if found.paid_cents is not None and purchase.paid_cents is None:
        purchase.paid_cents = found.paid_cents
        purchase.paid_currency = found.paid_currency
    if found.store_paid and purchase.paid_cents is None:
        # In-app stores sell a product at their own price in the buyer's currency.
        purchase.paid_cents = purchase.price_cents
        purchase.paid_currency = purchase.currency
    refunded = _refunded_cents(purchase, found)
    if refunded is not None:
        if found.reported_at is None:
            # Providers report the cumulative refund: keep the largest, apply the difference.
            purchase.refunded_cents = max(purchase.refunded_cents, refunded)
        elif purchase.refund_reported_at is None or found.reported_at >= (
            purchase.refund_reported_at
        ):
            # A store that can undo a refund: the newest report is the state.
            purchase.refunded_cents = refunded
            purchase.refund_reported_at = found.reported_at
    if found.dispute == DisputeState.OPEN:
        if purchase.dispute == DisputeState.NONE:
            purchase.dispute = DisputeState.OPEN
    elif found.dispute is not None and purchase.dispute != DisputeState.LOST:
        purchase.dispute = found.dispute  # closed (won or lost); a lost one stays lost
