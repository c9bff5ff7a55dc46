"""Gifts: the split, the catalog and stream leaderboards (sending one: `gift_sending`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from mylivelinks.extensions import db
from mylivelinks.models import Gift, GiftType, Profile, Stream
from mylivelinks.models.ledger import CENTICOINS_PER_COIN
from mylivelinks.pagination import Page, decode_cursor, encode_cursor
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


@dataclass(frozen=True)
class GifterRank:
    """One gifter's place on a stream's leaderboard."""

    rank: int
    profile: Profile
    coins: int


# Where a page of a stream leaderboard resumes: after this (rank, coins, first gift, id).
_GIFTER_CURSOR = (int, int, datetime, uuid.UUID)


def stream_leaderboard(stream_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    """Top gifters of a stream, most coins first, ties to who gave first (then by id); a
    page of GifterRank, resuming after `cursor`."""
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
    stmt = select(Profile, totals.c.coins, totals.c.since).join(
        totals, totals.c.sender_id == Profile.id
    )
    rank = 0
    if cursor:
        rank, coins, since, profile_id = decode_cursor(cursor, _GIFTER_CURSOR)
        stmt = stmt.where(
            or_(
                totals.c.coins < coins,
                and_(totals.c.coins == coins, totals.c.since > since),
                and_(totals.c.coins == coins, totals.c.since == since, Profile.id > profile_id),
            )
        )
    rows = db.session.execute(
        stmt.order_by(totals.c.coins.desc(), totals.c.since, Profile.id).limit(limit + 1)
    ).all()
    places = [
        GifterRank(rank + n, row.Profile, int(row.coins)) for n, row in enumerate(rows[:limit], 1)
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([rank + limit, int(last.coins), last.since, last.Profile.id])
    return Page(places, next_cursor)


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
