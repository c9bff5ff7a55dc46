"""Coin packs on sale, checkout through the platform's payment provider, purchase history."""

from __future__ import annotations

import uuid

from flask import current_app
from sqlalchemy import select

from mylivelinks.extensions import db
from mylivelinks.models import CoinPurchase
from mylivelinks.pagination import Page, keyset_page
from mylivelinks.payments import provider_for_platform
from mylivelinks.payments.packs import CoinPack
from mylivelinks.services.errors import InvalidInput


def packs_on(platform: str) -> list[CoinPack]:
    """The configured packs of one platform, cheapest first."""
    packs = [p for p in current_app.extensions["coin_packs"] if p.platform == platform]
    return sorted(packs, key=lambda pack: pack.price_cents)


def find_pack(pack_id: str, *, platform: str) -> CoinPack:
    """The configured pack with this id on `platform`, or InvalidInput."""
    for pack in packs_on(platform):
        if pack.id == pack_id:
            return pack
    raise InvalidInput(f"No coin pack {pack_id!r} for {platform}.", field="pack_id")


def start_checkout(profile_id: uuid.UUID, pack: CoinPack) -> CoinPurchase:
    """Open the provider's checkout, then the pending purchase that it pays for.

    The vendor is called before anything is written, so no database transaction is open
    across the call; a failure leaves at most an unused checkout that the store expires.
    Raises the PaymentProviderError subclasses of `PaymentProvider.create_checkout`.
    """
    provider = provider_for_platform(pack.platform)
    purchase_id = uuid.uuid4()
    checkout = provider.create_checkout(str(purchase_id), str(profile_id), pack)
    purchase = CoinPurchase(
        id=purchase_id,
        profile_id=profile_id,
        provider=provider.name,
        platform=pack.platform,
        pack_id=pack.id,
        coins=pack.coins,
        price_cents=pack.price_cents,
        currency=pack.currency,
        provider_session_id=checkout.session_id,
        checkout_url=checkout.url,
    )
    db.session.add(purchase)
    db.session.flush()
    return purchase


def list_purchases(profile_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    """The user's purchases, newest first."""
    return keyset_page(
        select(CoinPurchase).where(CoinPurchase.profile_id == profile_id),
        [CoinPurchase.created_at, CoinPurchase.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.CoinPurchase.created_at, row.CoinPurchase.id),
    )
