"""In-app purchases (App Store, Google Play): one row per store payment, whoever reports it.

The app's call after a purchase and the store's notification may both be first to name a
payment; either creates the purchase row, unique per (provider, payment id), and the other
finds it. Coins are credited by the ledger's one state machine (`ledger.purchases.settle`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.jobs.enqueue import enqueue_finish_purchase, enqueue_payment_event
from mylivelinks.ledger.purchases import settle
from mylivelinks.models import CoinPurchase, PaymentEvent, Profile
from mylivelinks.models.payments import PaymentEventStatus
from mylivelinks.payments import (
    REGISTRY,
    payment_provider,
    platform_of,
    provider_for_platform,
)
from mylivelinks.payments.base import PurchaseInvalid
from mylivelinks.payments.facts import PaymentFacts
from mylivelinks.payments.merge import merge_facts
from mylivelinks.payments.packs import CoinPack
from mylivelinks.transaction import after_commit

log = logging.getLogger(__name__)


class PurchaseOfAnotherBuyer(PurchaseInvalid):
    """The store says another account bought it, or another account already redeemed it."""


def pack_for_product(provider: str, product_id: str | None) -> CoinPack | None:
    """The pack sold as `product_id` on the platform `provider` sells, if any."""
    platform = platform_of(provider)
    packs = current_app.extensions["coin_packs"]
    return next((p for p in packs if p.platform == platform and p.id == product_id), None)


def _as_uuid(buyer_id: str | None) -> uuid.UUID | None:
    # Apps may spell the id in capitals or without hyphens; the stores keep what they got.
    with contextlib.suppress(ValueError, TypeError):
        return uuid.UUID(buyer_id or "")
    return None


def _profile_id(buyer_id: str | None) -> uuid.UUID | None:
    profile_id = _as_uuid(buyer_id)
    if profile_id is not None and db.session.get(Profile, profile_id) is not None:
        return profile_id
    return None


def store_purchase(
    provider: str, found: PaymentFacts, profile_id: uuid.UUID, pack: CoinPack
) -> CoinPurchase:
    """The purchase of the store payment `found` names, created for `profile_id` when new;
    locked for update. Concurrent callers for one payment get the same row."""
    db.session.execute(
        insert(CoinPurchase)
        .values(
            id=uuid.uuid4(),
            profile_id=profile_id,
            provider=provider,
            platform=pack.platform,
            pack_id=pack.id,
            coins=pack.coins,
            price_cents=pack.price_cents,
            currency=pack.currency,
            provider_payment_id=found.payment_id,
            provider_session_id=found.session_id,
        )
        .on_conflict_do_nothing()
    )
    conditions = [CoinPurchase.provider_payment_id == found.payment_id]
    if found.session_id:
        conditions.append(CoinPurchase.provider_session_id == found.session_id)
    purchase = db.session.scalar(
        select(CoinPurchase)
        .where(CoinPurchase.provider == provider, or_(*conditions))
        .with_for_update()
    )
    assert purchase is not None  # inserted now or by whoever conflicted
    return purchase


def purchase_from_store_facts(provider: str, found: PaymentFacts) -> CoinPurchase | None:
    """The purchase a store's notification reports before the app did, created when the
    store names the buyer (the profile id the app gave it) and a pack; None otherwise."""
    profile_id = _profile_id(found.buyer_id)
    pack = pack_for_product(provider, found.product_id)
    if not (found.payment_id and found.store_paid and profile_id and pack):
        return None
    return store_purchase(provider, found, profile_id, pack)


def settle_and_finish(purchase: CoinPurchase) -> None:
    """Settle the purchase; once it is first credited, have the store's purchase finished."""
    credited_before = purchase.coins_credited
    settle(purchase)
    if purchase.coins_credited > credited_before and (
        payment_provider(purchase.provider).finishes_purchases
    ):
        purchase_id = purchase.id
        after_commit(lambda: enqueue_finish_purchase(purchase_id))


def release_waiting_events(provider: str, payment_ref: str) -> None:
    """Once committed, queue the store's notifications of `payment_ref` that were waiting
    for its purchase to be known."""
    waiting = db.session.scalars(
        select(PaymentEvent.id).where(
            PaymentEvent.provider == provider,
            PaymentEvent.payment_ref == payment_ref,
            PaymentEvent.status == PaymentEventStatus.DEFERRED,
        )
    ).all()
    for event_id in waiting:
        after_commit(functools.partial(enqueue_payment_event, event_id))


def redeem_in_app_purchase(
    profile_id: uuid.UUID, platform: str, proof: Mapping[str, str]
) -> CoinPurchase:
    """Verify an in-app purchase with the store and credit its coins to the caller once.

    Returns the purchase. Raises PurchaseInvalid (the store does not vouch for it, or it is
    not a pack of `platform`), PurchaseOfAnotherBuyer, and the adapter's errors. The store is
    asked before anything is written; any notification of the same payment that arrived
    first and waited is applied once this commits.
    """
    provider = provider_for_platform(platform)
    bought = provider.verify_purchase(proof)
    found = bought.facts
    pack = pack_for_product(provider.name, found.product_id)
    if pack is None or not found.payment_id:
        raise PurchaseInvalid(f"{found.product_id!r} is not a coin pack sold on {platform}")
    if found.buyer_id and _as_uuid(found.buyer_id) != profile_id:
        raise PurchaseOfAnotherBuyer("This purchase was made by another account.")
    purchase = store_purchase(provider.name, found, profile_id, pack)
    if purchase.profile_id != profile_id:
        raise PurchaseOfAnotherBuyer("This purchase was redeemed by another account.")
    merge_facts(purchase, found)
    settle_and_finish(purchase)
    release_waiting_events(provider.name, bought.payment_ref)
    log.info(
        "in-app purchase redeemed",
        extra={"provider": provider.name, "purchase_id": str(purchase.id)},
    )
    return purchase


# Google refunds a purchase not acknowledged within three days: sweep well inside that.
FINISH_WITHIN = timedelta(days=3)
FINISH_GRACE = timedelta(minutes=5)


def mark_finished(purchase_id: uuid.UUID) -> None:
    """Record that the store confirmed the purchase was delivered."""
    db.session.execute(
        update(CoinPurchase)
        .where(CoinPurchase.id == purchase_id, CoinPurchase.store_finished_at.is_(None))
        .values(store_finished_at=datetime.now(UTC))
    )


def unfinished_purchase_ids(now: datetime | None = None) -> list[uuid.UUID]:
    """Credited purchases whose store still waits for our confirmation (a lost job)."""
    now = now or datetime.now(UTC)
    providers = [name for name in REGISTRY if payment_provider(name).finishes_purchases]
    return list(
        db.session.scalars(
            select(CoinPurchase.id)
            .where(
                CoinPurchase.provider.in_(providers),
                CoinPurchase.coins_credited > 0,
                CoinPurchase.store_finished_at.is_(None),
                CoinPurchase.created_at > now - FINISH_WITHIN,
                CoinPurchase.updated_at < now - FINISH_GRACE,
            )
            .order_by(CoinPurchase.created_at)
        )
    )
