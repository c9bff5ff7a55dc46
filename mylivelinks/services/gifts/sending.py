"""Sending a gift, the hottest money path: one statement, as a rule.

1. `send_gift` names the target (`targets.TargetKey`) and finds what it was priced on last
   time in this process (`targets.recent_targets`), or looks it up (`targets.look_up`,
   which names what is wrong: no such box, an empty one, yourself, a retired gift).
2. `_price` splits the coins (`catalog.split`) and builds the ledger `Transfer` (sender's
   coins → streamer's earnings + platform revenue, refused while spending is frozen) and
   the gift's `BookingParameters`.
3. `_book` runs the booking statement (`statements.booking_statement`) through the
   ledger's `book_with`: the context is read again and, only if the target still holds,
   the coins are booked and the gift row, counters and chat line written. When it no
   longer holds nothing was written: the target is looked up again and the gift priced
   again.
4. `_sent` turns the statement's row into the `SentGift` the API returns, and the gift's
   events are published once it commits (`events.gifts.gift_sent`).

No ORM objects are loaded on this path. Booking and writing in one statement lets a request
without an Idempotency-Key commit it as it runs (`transaction.commit_each_statement`), so the
streamer's hot rows are locked only while it runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mylivelinks.events import gifts as gift_events
from mylivelinks.ledger.accounts import open_user_accounts, revenue_account_id, user_accounts
from mylivelinks.ledger.booking import Booking, Posting, Transfer, TransferKind, book_with
from mylivelinks.ledger.errors import AccountNotOpened, InsufficientFunds
from mylivelinks.ledger.wallet import Wallet, spending, wallet
from mylivelinks.services.accounts.usernames import normalize_username
from mylivelinks.services.errors import Conflict, InvalidInput
from mylivelinks.services.gifts.catalog import split
from mylivelinks.services.gifts.statements import (
    BookedGiftRow,
    BookingParameters,
    ContextParameters,
    booking_statement,
)
from mylivelinks.services.gifts.targets import Target, TargetKey, look_up, recent_targets
from mylivelinks.transaction import after_commit

# Bookings tried before giving up on a target that changes under each of them.
TRIES = 3


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
    (naming the balance), SpendingFrozen; nothing is written when any is raised. Once
    committed, the room and both people are told. Never commits.
    """
    if (room is None) == (recipient is None) or (room is not None) != (position is not None):
        raise InvalidInput("Send a gift to a box (room and position) or to a recipient.")
    key = TargetKey(
        gift_type_id=gift_type_id,
        room=room.lower() if room is not None else None,
        position=position,
        recipient=normalize_username(recipient) if recipient is not None else None,
    )
    named = ContextParameters(sender_id, gift_type_id, key.room, position, key.recipient)
    targets = recent_targets()
    target = targets.get(key)
    for _ in range(TRIES):
        if target is None:
            target = look_up(named)
            targets.remember(key, target)
        transfer, parameters = _price(named, target, quantity, streamer_percent)
        booked = _book(transfer, parameters, by_box=key.room is not None)
        if booked is not None:
            sent = _sent(parameters, *booked)
            _announce_once_committed(sent)
            return sent
        targets.forget(key)  # it no longer holds: nothing was written
        target = None
    raise Conflict("The gift's target kept changing; try again.")


def _announce_once_committed(sent: SentGift) -> None:
    """Tell the room and both people about the gift once it is committed."""
    announcement = gift_events.announcement(sent)
    chat_line = gift_events.chat_line_payload(sent)
    after_commit(lambda: gift_events.gift_sent(announcement, chat_line))


def _price(
    named: ContextParameters, target: Target, quantity: int, streamer_percent: int
) -> tuple[Transfer, BookingParameters]:
    """The gift's ledger transfer and the booking statement's parameters."""
    coins = target.coin_cost * quantity
    streamer_share, platform_share = split(coins, streamer_percent)
    gift_id = uuid.uuid4()
    sender_accounts = user_accounts(named.sender_id)
    transfer = spending(
        named.sender_id,
        coins,
        recipients=[
            Posting(user_accounts(target.recipient_id).earnings, streamer_share),
            Posting(revenue_account_id(str(gift_id)), platform_share),
        ],
        kind=TransferKind.GIFT,
        source_ref=str(gift_id),
        details={"gift_type": target.gift_name, "quantity": quantity},
    )
    parameters = BookingParameters(
        context=named,
        gift_id=gift_id,
        recipient_id=target.recipient_id,
        stream_id=target.stream_id,
        room_id=target.room_id,
        gift_name=target.gift_name,
        unit_cost=target.coin_cost,
        quantity=quantity,
        coins=coins,
        streamer_share=streamer_share,
        platform_share=platform_share,
        line_id=uuid.uuid4(),
        earnings_account=sender_accounts.earnings,
        debt_account=sender_accounts.debt,
    )
    return transfer, parameters


def _book(
    transfer: Transfer, parameters: BookingParameters, *, by_box: bool
) -> tuple[Booking, BookedGiftRow] | None:
    """Run the booking statement: the booking and its row once the coins are booked, or
    None when the target no longer holds (then nothing was written)."""
    statement = booking_statement(by_box=by_box)

    def attempt() -> tuple[Booking, BookedGiftRow] | None:
        booking, row = book_with(transfer, statement, parameters.values(), BookedGiftRow)
        if booking is None or row is None:
            return None
        if booking.replayed:  # a fresh gift id cannot have been booked: nothing was written
            raise RuntimeError(f"gift {parameters.gift_id} was already booked")
        return booking, row

    try:
        try:
            return attempt()
        except AccountNotOpened:
            # A recipient's first earnings: open their accounts once (nothing was written).
            open_user_accounts(parameters.recipient_id)
            return attempt()
    except InsufficientFunds:
        balance = wallet(parameters.context.sender_id).coin_balance
        raise InsufficientFunds(
            f"This gift costs {parameters.coins} coins and you have {balance}.", field="quantity"
        ) from None


def _sent(parameters: BookingParameters, booking: Booking, row: BookedGiftRow) -> SentGift:
    """The gift as booked, from the booking statement's row."""
    # A booked row has every part of its context (the statement checked each).
    assert row.recipient_username is not None and row.created_at is not None
    assert row.gift_id is not None and row.gift_name is not None and row.gift_emoji is not None
    assert row.gift_coin_cost is not None and row.gift_sort_order is not None
    assert row.gift_animation is not None and row.gift_rarity is not None
    coins_account = user_accounts(parameters.context.sender_id).coins
    chat_line = None
    if row.line_body is not None:
        chat_line = {
            "id": parameters.line_id,
            "body": row.line_body,
            "created_at": row.line_created_at,
        }
    return SentGift(
        id=parameters.gift_id,
        sender=Person(
            row.sender_id, row.sender_username, row.sender_display_name, row.sender_avatar_url
        ),
        recipient=Person(
            parameters.recipient_id,
            row.recipient_username,
            row.recipient_display_name,
            row.recipient_avatar_url,
        ),
        stream_id=parameters.stream_id,
        room=row.room,
        position=parameters.context.position,
        gift_type=GiftKind(
            row.gift_id,
            row.gift_name,
            row.gift_emoji,
            row.gift_coin_cost,
            row.gift_animation,
            row.gift_rarity,
            row.gift_sort_order,
        ),
        quantity=parameters.quantity,
        coins=parameters.coins,
        streamer_share_centicoins=parameters.streamer_share,
        platform_share_centicoins=parameters.platform_share,
        created_at=row.created_at,
        wallet=Wallet.from_balances(
            booking.balances[coins_account], row.earnings or 0, row.debt or 0
        ),
        chat_line=chat_line,
    )
