"""The purchase state machine, derived from the provider's facts so any event order converges."""

from __future__ import annotations

from mylivelinks.events import wallet as wallet_events
from mylivelinks.extensions import db
from mylivelinks.ledger.booking import TransferKind
from mylivelinks.ledger.wallet import credit_coins, take_back_coins
from mylivelinks.models.ledger import AccountKind
from mylivelinks.models.payments import CoinPurchase, DisputeState, PurchaseStatus
from mylivelinks.transaction import after_commit


def derived_status(purchase: CoinPurchase) -> PurchaseStatus:
    """pending → confirmed → refunded | partially_refunded | disputed → confirmed | chargeback."""
    if purchase.flagged_reason:
        return PurchaseStatus.FLAGGED
    if purchase.paid_cents is None:
        return PurchaseStatus.PENDING
    if purchase.dispute == DisputeState.LOST:
        return PurchaseStatus.CHARGEBACK
    if purchase.dispute == DisputeState.OPEN:
        return PurchaseStatus.DISPUTED
    if purchase.refunded_cents >= purchase.price_cents:
        return PurchaseStatus.REFUNDED
    if purchase.refunded_cents > 0:
        return PurchaseStatus.PARTIALLY_REFUNDED
    return PurchaseStatus.CONFIRMED


def _payment_mismatch(purchase: CoinPurchase) -> str | None:
    if purchase.paid_cents != purchase.price_cents:
        return f"paid {purchase.paid_cents} cents for a {purchase.price_cents}-cent pack"
    if (purchase.paid_currency or "").lower() != purchase.currency.lower():
        return f"paid in {purchase.paid_currency} for a {purchase.currency} pack"
    return None


def settle(purchase: CoinPurchase) -> None:
    """Make the ledger reflect the purchase's facts; idempotent, call with the row locked."""
    if purchase.paid_cents is not None and not purchase.flagged_reason:
        purchase.flagged_reason = _payment_mismatch(purchase)
    if purchase.flagged_reason:
        purchase.status = derived_status(purchase)
        db.session.flush()
        return
    details = {"purchase_id": str(purchase.id), "pack_id": purchase.pack_id}
    # One purchase is one payment (unique per provider), and its id is known from the start.
    payment_ref = f"{purchase.provider}:{purchase.id}"
    target_credit = purchase.coins if purchase.paid_cents is not None else 0
    if target_credit > purchase.coins_credited:
        credited = target_credit - purchase.coins_credited
        booking = credit_coins(
            purchase.profile_id,
            credited,
            source_kind=AccountKind.PURCHASES_CLEARING,
            kind=TransferKind.PURCHASE,
            source_ref=payment_ref,
            details=details,
        )
        purchase.coins_credited = target_credit
        if not booking.replayed:
            profile_id, event = purchase.profile_id, {**details, "coins": credited}
            after_commit(lambda: wallet_events.coins_credited(profile_id, event))
    if purchase.dispute == DisputeState.LOST:
        target_reversal = target_credit
    else:
        refunded = min(purchase.refunded_cents, purchase.price_cents)
        target_reversal = target_credit * refunded // purchase.price_cents
    if target_reversal > purchase.coins_reversed:
        # One booking per level of coins ever taken back (restores never lower it), so a
        # redelivered event finds its booking and a refund after a restore books anew.
        taken_ever = purchase.coins_reversed + purchase.coins_restored
        take_back_coins(
            purchase.profile_id,
            target_reversal - purchase.coins_reversed,
            kind=TransferKind.PURCHASE_REVERSAL,
            source_ref=f"{payment_ref}:{taken_ever + target_reversal - purchase.coins_reversed}",
            details=details,
        )
        purchase.coins_reversed = target_reversal
    elif target_reversal < purchase.coins_reversed:
        # The store undid a refund: give the coins back (paying off the debt it caused first).
        restored = purchase.coins_restored + purchase.coins_reversed - target_reversal
        credit_coins(
            purchase.profile_id,
            purchase.coins_reversed - target_reversal,
            source_kind=AccountKind.REVERSALS_CLEARING,
            kind=TransferKind.PURCHASE_RESTORE,
            source_ref=f"{payment_ref}:restored:{restored}",
            details=details,
        )
        purchase.coins_reversed = target_reversal
        purchase.coins_restored = restored
    purchase.status = derived_status(purchase)
    db.session.flush()
