"""Gifts: the catalog, sending one (one ledger transaction, exact split), stream leaderboards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update

from mylivelinks.extensions import db
from mylivelinks.ledger.accounts import open_user_accounts, revenue_account_id
from mylivelinks.ledger.errors import InsufficientFunds
from mylivelinks.ledger.transfers import Posting
from mylivelinks.ledger.wallet import spend_coins, wallet
from mylivelinks.models import Box, Gift, GiftType, Profile, Room, Stream
from mylivelinks.models.ledger import CENTICOINS_PER_COIN
from mylivelinks.services.accounts import get_by_username
from mylivelinks.services.errors import Conflict, InvalidInput, NotFound

MAX_QUANTITY = 9999


def split(coins: int, streamer_percent: int) -> tuple[int, int]:
    """(streamer, platform) shares of `coins` in centicoins; they always sum to the whole."""
    amount = coins * CENTICOINS_PER_COIN
    streamer = amount * streamer_percent // 100
    return streamer, amount - streamer


@dataclass(frozen=True)
class GiftTarget:
    """Who receives a gift, and the stream and box it was sent to (when there is one)."""

    recipient: Profile
    stream: Stream | None
    room: Room | None
    position: int | None


def resolve_target(
    sender: Profile, *, room: str | None, position: int | None, recipient: str | None
) -> GiftTarget:
    """The occupied box (`room` + `position`) or the user (`recipient`) a gift goes to."""
    if (room is None) == (recipient is None) or (room is not None) != (position is not None):
        raise InvalidInput("Send a gift to a box (room and position) or to a recipient.")
    if room is not None:
        # One query for the room, the box, its live stream and the streamer (a hot path).
        row = db.session.execute(
            select(Room, Box.id.label("box_id"), Stream, Profile)
            .outerjoin(Box, (Box.room_id == Room.id) & (Box.position == position))
            .outerjoin(Stream, (Stream.box_id == Box.id) & (Stream.status == "live"))
            .outerjoin(Profile, Profile.id == Stream.streamer_id)
            .where(Room.slug == room.lower())
        ).one_or_none()
        if row is None:
            raise NotFound(f"No room is called {room!r}.")
        if row.box_id is None:
            raise NotFound(f"Room {row.Room.slug} has no box {position}.")
        if row.Stream is None:
            raise Conflict(f"Box {position} is empty.", field="position")
        target = GiftTarget(row.Profile, row.Stream, row.Room, position)
    else:
        person = get_by_username(recipient)
        stream = db.session.scalar(
            select(Stream).where(Stream.streamer_id == person.id, Stream.status == "live")
        )
        target = GiftTarget(person, stream, None, None)
    if target.recipient.id == sender.id:
        raise InvalidInput("You cannot send a gift to yourself.", field="recipient")
    return target


def send_gift(
    sender: Profile,
    gift_type_id: uuid.UUID,
    quantity: int,
    target: GiftTarget,
    *,
    streamer_percent: int,
) -> Gift:
    """Debit the sender, credit the streamer's earnings and platform revenue: one transaction.

    InsufficientFunds (with the balance) when short, SpendingFrozen while in debt.
    """
    gift_type = db.session.get(GiftType, gift_type_id)
    if gift_type is None:
        raise NotFound("No such gift.")
    if not gift_type.active:
        raise InvalidInput(f"{gift_type.name} can no longer be sent.", field="gift_type_id")
    coins = gift_type.coin_cost * quantity
    streamer_share, platform_share = split(coins, streamer_percent)
    gift_id = uuid.uuid4()
    recipient_accounts = open_user_accounts(target.recipient.id)
    try:
        booked = spend_coins(
            sender.id,
            coins,
            recipients=[
                Posting(recipient_accounts.earnings, streamer_share),
                Posting(revenue_account_id(str(gift_id)), platform_share),
            ],
            kind="gift",
            source_ref=str(gift_id),
            details={"gift_type": gift_type.name, "quantity": quantity},
        )
    except InsufficientFunds:
        balance = wallet(sender.id).coin_balance
        raise InsufficientFunds(
            f"This gift costs {coins} coins and you have {balance}.", field="quantity"
        ) from None
    gift = Gift(
        id=gift_id,
        sender_id=sender.id,
        recipient_id=target.recipient.id,
        stream_id=target.stream.id if target.stream else None,
        room_id=target.room.id if target.room else None,
        position=target.position,
        gift_type=gift_type,
        quantity=quantity,
        coins=coins,
        streamer_share_centicoins=streamer_share,
        platform_share_centicoins=platform_share,
        transaction_id=booked.transaction_id,
    )
    db.session.add(gift)
    _count(sender.id, target, coins, quantity)
    db.session.flush()
    return gift


def _count(sender_id: uuid.UUID, target: GiftTarget, coins: int, quantity: int) -> None:
    # Atomic increments, both profiles in one statement (rows locked in index order, so two
    # users gifting each other cannot deadlock), then the stream.
    recipient_id = target.recipient.id
    db.session.execute(
        update(Profile)
        .where(Profile.id.in_([sender_id, recipient_id]))
        .values(
            gifts_sent_coins=case(
                (Profile.id == sender_id, Profile.gifts_sent_coins + coins),
                else_=Profile.gifts_sent_coins,
            ),
            gifts_received_coins=case(
                (Profile.id == recipient_id, Profile.gifts_received_coins + coins),
                else_=Profile.gifts_received_coins,
            ),
        )
        .execution_options(synchronize_session=False)  # nothing in the session reads them
    )
    if target.stream is not None:
        db.session.execute(
            update(Stream)
            .where(Stream.id == target.stream.id)
            .values(
                gifts_received=Stream.gifts_received + quantity,
                gift_coins_received=Stream.gift_coins_received + coins,
            )
            .execution_options(synchronize_session=False)
        )


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
            gift_type = db.session.get(GiftType, item["id"], with_for_update=True)
            if gift_type is None:
                raise NotFound(f"No gift type {item['id']}.")
            for key, value in fields.items():
                setattr(gift_type, key, value)
        db.session.flush()
        listed.add(gift_type.id)
    db.session.execute(update(GiftType).where(GiftType.id.not_in(listed)).values(active=False))
    db.session.flush()
    return catalog(include_retired=True)
