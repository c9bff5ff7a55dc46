"""Sending a gift, the hottest money path: one statement, as a rule.

The gift is priced on its target (`gift_targets`: the gift type's cost, the recipient,
their live stream), remembered per process once looked up. One statement
(`gift_statements.booking_statement`) reads the context again and, only if the target
still holds, books the coins with `ledger_transfer` (sender → streamer's earnings +
platform revenue) and writes the gift row, both profiles' and the stream's counters and
the chat's gift line, returning the context, the sender's wallet and the line. When the
target no longer holds (the box changed hands, the gift type was edited), nothing was
written: the target is looked up again, naming what is wrong, and the gift booked again.

The statements are built once and rows come back as plain values: no ORM objects are
loaded on this path. Booking and writing in one statement lets a request without an
Idempotency-Key commit it as it runs (the route's `commit_each_statement`), so the
streamer's hot rows are locked only while it runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mylivelinks.ledger.accounts import open_user_accounts, revenue_account_id, user_accounts
from mylivelinks.ledger.errors import AccountNotOpened, InsufficientFunds
from mylivelinks.ledger.transfers import Posting, PreparedTransfer, book
from mylivelinks.ledger.wallet import Wallet, prepare_spend, wallet
from mylivelinks.services.accounts.usernames import normalize_username
from mylivelinks.services.errors import Conflict, InvalidInput
from mylivelinks.services.gifts.catalog import split
from mylivelinks.services.gifts.statements import (
    GIFT_TYPE_FIELDS,
    PERSON_FIELDS,
    booking_statement,
)
from mylivelinks.services.gifts.targets import Target, TargetKey, look_up, recent_targets

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
    (naming the balance), SpendingFrozen; nothing is written when any is raised. Never commits.
    """
    if (room is None) == (recipient is None) or (room is not None) != (position is not None):
        raise InvalidInput("Send a gift to a box (room and position) or to a recipient.")
    key = TargetKey(
        gift_type_id=gift_type_id,
        room=room.lower() if room is not None else None,
        position=position,
        recipient=normalize_username(recipient) if recipient is not None else None,
    )
    targets = recent_targets()
    target = targets.get(key)
    for _ in range(TRIES):
        if target is None:
            target = look_up(sender_id, key)
            targets.remember(key, target)
        gift = _Gift.priced(sender_id, key, target, quantity, streamer_percent)
        row = _book(gift, by_box=key.room is not None)
        if row is not None:
            return gift.sent(row)
        targets.forget(key)  # it no longer holds: nothing was written
        target = None
    raise Conflict("The gift's target kept changing; try again.")


@dataclass(frozen=True)
class _Gift:
    """A gift priced on a target, with everything the booking statement binds."""

    target: Target
    quantity: int
    transfer: PreparedTransfer
    params: dict[str, Any]

    @classmethod
    def priced(
        cls,
        sender_id: uuid.UUID,
        key: TargetKey,
        target: Target,
        quantity: int,
        streamer_percent: int,
    ) -> _Gift:
        """The gift's shares, postings and statement parameters."""
        coins = target.coin_cost * quantity
        streamer_share, platform_share = split(coins, streamer_percent)
        gift_id = uuid.uuid4()
        sender_accounts = user_accounts(sender_id)
        params = {
            # The context as the client named it (read again by the statement, and the gift
            # row's sender, gift type and box) ...
            "sender_id": sender_id,
            "gift_type_id": key.gift_type_id,
            "room": key.room,
            "position": key.position,
            "recipient": key.recipient,
            # ... and the gift as priced on the target.
            "p_gift_id": gift_id,
            "p_recipient_id": target.recipient_id,
            "p_stream_id": target.stream_id,
            "p_room_id": target.room_id,
            "p_gift_name": target.gift_name,
            "p_unit_cost": target.coin_cost,
            "p_quantity": quantity,
            "p_coins": coins,
            "p_streamer_share": streamer_share,
            "p_platform_share": platform_share,
            "p_line_id": uuid.uuid4(),
            "p_earnings_account": sender_accounts.earnings,
            "p_debt_account": sender_accounts.debt,
        }
        transfer = prepare_spend(
            sender_id,
            coins,
            recipients=[
                Posting(user_accounts(target.recipient_id).earnings, streamer_share),
                Posting(revenue_account_id(str(gift_id)), platform_share),
            ],
            kind="gift",
            source_ref=str(gift_id),
            details={"gift_type": target.gift_name, "quantity": quantity},
        )
        return cls(target, quantity, transfer, params)

    def sent(self, row) -> SentGift:
        """The gift as booked, from the booking statement's row."""
        values = row._asdict()
        sender = Person(*(values[f"sender_{field}"] for field in PERSON_FIELDS))
        coin_balance = self.transfer.balance_after(row.balances, user_accounts(sender.id).coins)
        chat_line = None
        if self.target.room_id is not None:
            chat_line = {
                "id": self.params["p_line_id"],
                "body": row.line_body,
                "created_at": row.line_created_at,
            }
        return SentGift(
            id=self.params["p_gift_id"],
            sender=sender,
            recipient=Person(*(values[f"recipient_{field}"] for field in PERSON_FIELDS)),
            stream_id=self.target.stream_id,
            room=row.room,
            position=self.params["position"],
            gift_type=GiftKind(*(values[f"gift_{field}"] for field in GIFT_TYPE_FIELDS)),
            quantity=self.quantity,
            coins=self.params["p_coins"],
            streamer_share_centicoins=self.params["p_streamer_share"],
            platform_share_centicoins=self.params["p_platform_share"],
            created_at=row.created_at,
            wallet=Wallet.from_balances(coin_balance, row.earnings or 0, row.debt or 0),
            chat_line=chat_line,
        )


def _book(gift: _Gift, *, by_box: bool):
    """Run the booking statement: its row once the coins are booked, or None when the
    target no longer holds (then nothing was written)."""
    statement = booking_statement(by_box=by_box)
    target = gift.target

    def attempt():
        result, row = book(gift.transfer, statement, **gift.params)
        if result is None:
            return None
        if result.replayed:  # a fresh gift id cannot have been booked: nothing was written
            raise RuntimeError(f"gift {gift.params['p_gift_id']} was already booked")
        return row

    try:
        try:
            return attempt()
        except AccountNotOpened:
            # A recipient's first earnings: open their accounts once (nothing was written).
            open_user_accounts(target.recipient_id)
            return attempt()
    except InsufficientFunds:
        coins = gift.params["p_coins"]
        balance = wallet(gift.params["sender_id"]).coin_balance
        raise InsufficientFunds(
            f"This gift costs {coins} coins and you have {balance}.", field="quantity"
        ) from None
