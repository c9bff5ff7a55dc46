"""Gifts: the split, the catalog and stream leaderboards (sending one: `gift_sending`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update

from mylivelinks.extensions import db
from mylivelinks.models import Gift, GiftType, Profile, Stream
from mylivelinks.models.ledger import CENTICOINS_PER_COIN
from mylivelinks.services.errors import InvalidInput, NotFound

MAX_QUANTITY = 9999


def split(coins: int, streamer_percent: int) -> tuple[int, int]:
    """(streamer, platform) shares of `coins` in centicoins; they always sum to the whole."""
    amount = coins * CENTICOINS_PER_COIN
    streamer = amount * streamer_percent // 100
    return streamer, amount - streamer


def catalog(*, include_retired: bool = False) -> list[GiftType]:
    """The gift types, cheapest first (retired ones only when asked)."""
    stmt = select(GiftType).order_by(GiftType.sort_order, GiftType.coin_cost)
    if not include_retired:
        stmt = stmt.where(GiftType.active.is_(True))
    return list(db.session.scalars(stmt))


def stream_leaderboard(stream_id: uuid.UUID, *, limit: int) -> list[tuple[Profile, int, datetime]]:
    """Top gifters of a stream: (profile, coins, first gift), most coins first, ties by time."""
    if db.session.get(Stream, stream_id) is None:
        raise NotFound("No such stream.")
    totals = (
        select(
            Gift.sender_id,
            func.sum(Gift.coins).label("coins"),
            func.min(Gift.created_at).label("since"),
        )
        .where(Gift.stream_id == stream_id)
        .group_by(Gift.sender_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Profile, totals.c.coins, totals.c.since)
        .join(totals, totals.c.sender_id == Profile.id)
        .order_by(totals.c.coins.desc(), totals.c.since, Profile.id)
        .limit(limit)
    ).all()
    return [(row.Profile, int(row.coins), row.since) for row in rows]


def replace_catalog(items: list[dict]) -> list[GiftType]:
    """Create (no id) or update (by id) the listed types and retire every other one.

    Types are never deleted: gifts already sent keep showing theirs.
    """
    names = [item["name"] for item in items]
    if len(set(names)) != len(names):
        raise InvalidInput("Gift names must be unique.", field="items")
    listed = set()
    for item in items:
        fields = {key: value for key, value in item.items() if key != "id"}
        if item.get("id") is None:
            gift_type = GiftType(**fields)
            db.session.add(gift_type)
        else:
            found = db.session.get(GiftType, item["id"], with_for_update=True)
            if found is None:
                raise NotFound(f"No gift type {item['id']}.")
            for key, value in fields.items():
                setattr(found, key, value)
            gift_type = found
        db.session.flush()
        listed.add(gift_type.id)
    db.session.execute(update(GiftType).where(GiftType.id.not_in(listed)).values(active=False))
    db.session.flush()
    return catalog(include_retired=True)
