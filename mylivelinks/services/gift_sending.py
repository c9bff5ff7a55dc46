"""Sending a gift, the hottest money path: two statements and the commit.

1. one SELECT finds the sender, the gift type and the target (room, box, live stream,
   streamer; or a user and their live stream); the rules are checked on it here;
2. one statement books the coins with `ledger_transfer` (sender → streamer's earnings +
   platform revenue) and, only if they were booked, writes the gift row, both profiles' and
   the stream's counters and the chat's gift line, returning the sender's wallet.

The statements (`gift_statements`) are built once and rows come back as plain values: no
ORM objects are loaded on this path. Booking and writing in one statement holds the
streamer's hot rows locked for one round trip less before the commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mylivelinks.driver_sql import fetch_one
from mylivelinks.ledger.accounts import open_user_accounts, revenue_account_id, user_accounts
from mylivelinks.ledger.errors import AccountNotOpened, InsufficientFunds
from mylivelinks.ledger.transfers import Posting, PreparedTransfer, book
from mylivelinks.ledger.wallet import Wallet, prepare_spend, wallet
from mylivelinks.models.chat import MAX_MESSAGE_LENGTH
from mylivelinks.services.errors import Conflict, InvalidInput, NotFound, Unauthorized
from mylivelinks.services.gift_statements import (
    GIFT_TYPE_FIELDS,
    PERSON_FIELDS,
    booking_statement,
    context_statement,
)
from mylivelinks.services.gifts import split
from mylivelinks.services.usernames import normalize_username


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
    line_body = (
        f"{context.sender.username} sent {context.recipient.username} "
        f"{quantity} x {context.gift_type.emoji} {context.gift_type.name}"
    )[:MAX_MESSAGE_LENGTH]
    line_id = uuid.uuid4()
    sender_accounts = user_accounts(sender_id)
    gift_params = {
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
        "p_line_id": line_id,
        "p_line_body": line_body,
        "p_earnings_account": sender_accounts.earnings,
        "p_debt_account": sender_accounts.debt,
    }
    transfer = prepare_spend(
        sender_id,
        coins,
        recipients=[
            Posting(user_accounts(context.recipient.id).earnings, streamer_share),
            Posting(revenue_account_id(str(gift_id)), platform_share),
        ],
        kind="gift",
        source_ref=str(gift_id),
        details={"gift_type": context.gift_type.name, "quantity": quantity},
    )
    written = _book(context, transfer, gift_params)
    coin_balance = transfer.balance_after(written.balances, sender_accounts.coins)
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
        wallet=Wallet.from_balances(coin_balance, written.earnings or 0, written.debt or 0),
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
        context_statement(by_box=by_box),
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


def _book(context: _Context, transfer: PreparedTransfer, gift_params: dict[str, Any]):
    """Run the booking statement; its row once the coins are booked (nothing written else)."""
    statement = booking_statement(with_line=context.room_id is not None)

    def attempt():
        result, row = book(transfer, statement, **gift_params)
        if result.replayed:  # a fresh gift id cannot have been booked: nothing was written
            raise RuntimeError(f"gift {gift_params['p_gift_id']} was already booked")
        return row

    try:
        try:
            return attempt()
        except AccountNotOpened:
            # A recipient's first earnings: open their accounts once (nothing was written).
            open_user_accounts(context.recipient.id)
            return attempt()
    except InsufficientFunds:
        coins = gift_params["p_coins"]
        balance = wallet(context.sender.id).coin_balance
        raise InsufficientFunds(
            f"This gift costs {coins} coins and you have {balance}.", field="quantity"
        ) from None
