"""Sending a gift, the hottest money path: three statements and the commit.

1. one SELECT finds the sender, the gift type and the target (room, box, live stream,
   streamer; or a user and their live stream);
2. `ledger_transfer` books the coins (sender) → earnings (streamer) + revenue movement;
3. one INSERT ... WITH statement writes the gift row, both profiles' and the stream's
   counters and the chat's gift line, and reads the sender's wallet after the transfer.

Statements are built once (SQLAlchemy Core with bound parameters, so they compile once)
and rows come back as plain values: no ORM objects are loaded on this path.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, bindparam, case, func, null, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.types import Uuid

from mylivelinks.driver_sql import fetch_one
from mylivelinks.ledger.accounts import open_user_accounts, revenue_account_id, user_accounts
from mylivelinks.ledger.errors import AccountNotOpened, InsufficientFunds
from mylivelinks.ledger.transfers import Posting, TransferResult
from mylivelinks.ledger.wallet import Wallet, spend_coins, wallet
from mylivelinks.models import Box, ChatMessage, Gift, GiftType, Profile, Room, Stream
from mylivelinks.models.chat import MAX_MESSAGE_LENGTH
from mylivelinks.models.ledger import LedgerAccount
from mylivelinks.services.errors import Conflict, InvalidInput, NotFound, Unauthorized
from mylivelinks.services.gifts import split
from mylivelinks.services.usernames import normalize_username

PERSON_FIELDS = ("id", "username", "display_name", "avatar_url")
GIFT_TYPE_FIELDS = ("id", "name", "emoji", "coin_cost", "animation", "rarity", "sort_order")


@dataclass(frozen=True)
class Person:
    """A profile as a gift shows it."""

    id: uuid.UUID
    username: str
    display_name: str | None
    avatar_url: str | None


@dataclass(frozen=True)
class GiftKind:
    """The gift type sent (as it was when sent)."""

    id: uuid.UUID
    name: str
    emoji: str
    coin_cost: int
    animation: str
    rarity: str
    sort_order: int
    active: bool = True


@dataclass(frozen=True)
class SentGift:
    """A gift booked: what the API returns, what the room is told, the sender's wallet."""

    id: uuid.UUID
    sender: Person
    recipient: Person
    stream_id: uuid.UUID | None
    room: str | None
    position: int | None
    gift_type: GiftKind
    quantity: int
    coins: int
    streamer_share_centicoins: int
    platform_share_centicoins: int
    created_at: datetime
    wallet: Wallet
    chat_line: dict[str, Any] | None


@dataclass(frozen=True)
class _Context:
    sender: Person
    gift_type: GiftKind
    recipient: Person
    room_id: uuid.UUID | None
    room: str | None
    position: int | None
    stream_id: uuid.UUID | None


def send_gift(
    sender_id: uuid.UUID,
    gift_type_id: uuid.UUID,
    quantity: int,
    *,
    room: str | None,
    position: int | None,
    recipient: str | None,
    streamer_percent: int,
) -> SentGift:
    """Send a gift to an occupied box (`room` + `position`) or a user: one ledger transaction.

    NotFound, Conflict (empty box), InvalidInput (yourself, retired gift), InsufficientFunds
    (naming the balance), SpendingFrozen; nothing is written when any is raised. Never commits.
    """
    if (room is None) == (recipient is None) or (room is not None) != (position is not None):
        raise InvalidInput("Send a gift to a box (room and position) or to a recipient.")
    context = _context(sender_id, gift_type_id, room=room, position=position, recipient=recipient)
    coins = context.gift_type.coin_cost * quantity
    streamer_share, platform_share = split(coins, streamer_percent)
    gift_id = uuid.uuid4()
    booked = _book(context, gift_id, coins, quantity, streamer_share, platform_share)
    line_body = (
        f"{context.sender.username} sent {context.recipient.username} "
        f"{quantity} x {context.gift_type.emoji} {context.gift_type.name}"
    )[:MAX_MESSAGE_LENGTH]
    line_id = uuid.uuid4()
    sender_accounts = user_accounts(sender_id)
    written = fetch_one(
        _writes_statement(with_line=context.room_id is not None),
        {
            "p_gift_id": gift_id,
            "p_sender_id": sender_id,
            "p_recipient_id": context.recipient.id,
            "p_stream_id": context.stream_id,
            "p_room_id": context.room_id,
            "p_position": context.position,
            "p_gift_type_id": context.gift_type.id,
            "p_quantity": quantity,
            "p_coins": coins,
            "p_streamer_share": streamer_share,
            "p_platform_share": platform_share,
            "p_transaction_id": booked.transaction_id,
            "p_line_id": line_id,
            "p_line_body": line_body,
            "p_coins_account": sender_accounts.coins,
            "p_earnings_account": sender_accounts.earnings,
            "p_debt_account": sender_accounts.debt,
        },
    )
    chat_line = None
    if context.room_id is not None:
        chat_line = {"id": line_id, "body": line_body, "created_at": written.line_created_at}
    return SentGift(
        id=gift_id,
        sender=context.sender,
        recipient=context.recipient,
        stream_id=context.stream_id,
        room=context.room,
        position=context.position,
        gift_type=context.gift_type,
        quantity=quantity,
        coins=coins,
        streamer_share_centicoins=streamer_share,
        platform_share_centicoins=platform_share,
        created_at=written.created_at,
        wallet=Wallet.from_balances(written.coins or 0, written.earnings or 0, written.debt or 0),
        chat_line=chat_line,
    )


def _context(
    sender_id: uuid.UUID,
    gift_type_id: uuid.UUID,
    *,
    room: str | None,
    position: int | None,
    recipient: str | None,
) -> _Context:
    by_box = room is not None
    row = fetch_one(
        _context_statement(by_box=by_box),
        {
            "sender_id": sender_id,
            "gift_type_id": gift_type_id,
            "room": room.lower() if by_box else None,
            "position": position,
            "recipient": None if by_box else normalize_username(recipient),
        },
    )
    if row is None:
        raise Unauthorized("The account no longer exists.")
    values = row._asdict()
    if by_box:
        if row.room_id is None:
            raise NotFound(f"No room is called {room!r}.")
        if row.box_id is None:
            raise NotFound(f"Room {row.room} has no box {position}.")
        if row.stream_id is None:
            raise Conflict(f"Box {position} is empty.", field="position")
    elif row.recipient_id is None:
        raise NotFound(f"No profile is called {recipient!r}.")
    if row.recipient_id == sender_id:
        raise InvalidInput("You cannot send a gift to yourself.", field="recipient")
    if row.gift_id is None:
        raise NotFound("No such gift.")
    if not row.gift_active:
        raise InvalidInput(f"{row.gift_name} can no longer be sent.", field="gift_type_id")
    return _Context(
        sender=Person(*(values[f"sender_{field}"] for field in PERSON_FIELDS)),
        gift_type=GiftKind(*(values[f"gift_{field}"] for field in GIFT_TYPE_FIELDS)),
        recipient=Person(*(values[f"recipient_{field}"] for field in PERSON_FIELDS)),
        room_id=row.room_id,
        room=row.room,
        position=position if by_box else None,
        stream_id=row.stream_id,
    )


def _book(
    context: _Context,
    gift_id: uuid.UUID,
    coins: int,
    quantity: int,
    streamer_share: int,
    platform_share: int,
) -> TransferResult:
    def spend():
        return spend_coins(
            context.sender.id,
            coins,
            recipients=[
                Posting(user_accounts(context.recipient.id).earnings, streamer_share),
                Posting(revenue_account_id(str(gift_id)), platform_share),
            ],
            kind="gift",
            source_ref=str(gift_id),
            details={"gift_type": context.gift_type.name, "quantity": quantity},
        )

    try:
        try:
            return spend()
        except AccountNotOpened:
            # A recipient's first earnings: open their accounts once (nothing was written).
            open_user_accounts(context.recipient.id)
            return spend()
    except InsufficientFunds:
        balance = wallet(context.sender.id).coin_balance
        raise InsufficientFunds(
            f"This gift costs {coins} coins and you have {balance}.", field="quantity"
        ) from None


def _param(name: str, type_) -> Any:
    return bindparam(name, type_=type_)


@functools.cache
def _context_statement(*, by_box: bool):
    sender = Profile.__table__.alias("sender")
    recipient = Profile.__table__.alias("recipient")
    gift_types, rooms, boxes, streams = (
        GiftType.__table__,
        Room.__table__,
        Box.__table__,
        Stream.__table__,
    )
    columns = [
        *(sender.c[field].label(f"sender_{field}") for field in PERSON_FIELDS),
        *(recipient.c[field].label(f"recipient_{field}") for field in PERSON_FIELDS),
        *(gift_types.c[field].label(f"gift_{field}") for field in GIFT_TYPE_FIELDS),
        gift_types.c.active.label("gift_active"),
        streams.c.id.label("stream_id"),
    ]
    stmt = select(*columns).select_from(sender)
    stmt = stmt.outerjoin(gift_types, gift_types.c.id == _param("gift_type_id", Uuid()))
    live = streams.c.status == "live"
    if by_box:
        stmt = (
            stmt.add_columns(
                rooms.c.id.label("room_id"), rooms.c.slug.label("room"), boxes.c.id.label("box_id")
            )
            .outerjoin(rooms, rooms.c.slug == _param("room", rooms.c.slug.type))
            .outerjoin(
                boxes,
                (boxes.c.room_id == rooms.c.id)
                & (boxes.c.position == _param("position", Integer())),
            )
            .outerjoin(streams, (streams.c.box_id == boxes.c.id) & live)
            .outerjoin(recipient, recipient.c.id == streams.c.streamer_id)
        )
    else:
        username = _param("recipient", recipient.c.username.type)
        stmt = (
            stmt.add_columns(null().label("room_id"), null().label("room"))
            .outerjoin(recipient, func.lower(recipient.c.username) == username)
            .outerjoin(streams, (streams.c.streamer_id == recipient.c.id) & live)
        )
    return stmt.where(sender.c.id == _param("sender_id", Uuid()))


@functools.cache
def _writes_statement(*, with_line: bool):
    gifts, profiles, streams, chat, accounts = (
        Gift.__table__,
        Profile.__table__,
        Stream.__table__,
        ChatMessage.__table__,
        LedgerAccount.__table__,
    )
    sender_id, recipient_id = _param("p_sender_id", Uuid()), _param("p_recipient_id", Uuid())
    coins, quantity = _param("p_coins", BigInteger()), _param("p_quantity", Integer())
    new_gift = (
        insert(gifts)
        .values(
            id=_param("p_gift_id", Uuid()),
            sender_id=sender_id,
            recipient_id=recipient_id,
            stream_id=_param("p_stream_id", Uuid()),
            room_id=_param("p_room_id", Uuid()),
            position=_param("p_position", Integer()),
            gift_type_id=_param("p_gift_type_id", Uuid()),
            quantity=quantity,
            coins=coins,
            streamer_share_centicoins=_param("p_streamer_share", BigInteger()),
            platform_share_centicoins=_param("p_platform_share", BigInteger()),
            transaction_id=_param("p_transaction_id", Uuid()),
        )
        .returning(gifts.c.created_at)
        .cte("new_gift")
    )
    # Both profiles in one statement: rows are locked in index order, so two users gifting
    # each other cannot deadlock.
    counted_people = (
        update(profiles)
        .where(profiles.c.id.in_([sender_id, recipient_id]))
        .values(
            gifts_sent_coins=profiles.c.gifts_sent_coins
            + case((profiles.c.id == sender_id, coins), else_=0),
            gifts_received_coins=profiles.c.gifts_received_coins
            + case((profiles.c.id == recipient_id, coins), else_=0),
        )
        .returning(profiles.c.id)
        .cte("counted_people")
    )
    counted_stream = (
        update(streams)
        .where(streams.c.id == _param("p_stream_id", Uuid()))
        .values(
            gifts_received=streams.c.gifts_received + quantity,
            gift_coins_received=streams.c.gift_coins_received + coins,
        )
        .returning(streams.c.id)
        .cte("counted_stream")
    )

    def balance(name: str):
        return (
            select(accounts.c.balance)
            .where(accounts.c.id == _param(name, Uuid()))
            .scalar_subquery()
            .label(name.removeprefix("p_").removesuffix("_account"))
        )

    stmt = (
        select(
            new_gift.c.created_at,
            balance("p_coins_account"),
            balance("p_earnings_account"),
            balance("p_debt_account"),
        )
        .select_from(new_gift)
        .add_cte(counted_people, counted_stream)
    )
    if with_line:
        gift_line = (
            insert(chat)
            .values(
                id=_param("p_line_id", Uuid()),
                room_id=_param("p_room_id", Uuid()),
                kind="gift",
                body=_param("p_line_body", chat.c.body.type),
            )
            .returning(chat.c.created_at)
            .cte("gift_line")
        )
        stmt = stmt.add_columns(gift_line.c.created_at.label("line_created_at")).join(
            gift_line, true()
        )
    return stmt
