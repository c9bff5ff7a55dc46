"""The gift's two statements, built once with SQLAlchemy Core (see `gifts.sending`).

1. `context_statement`: the sender, the gift type and the target (room, box, live stream,
   streamer; or a user and their live stream) in one SELECT, as a `ContextRow`;
2. `booking_statement`: the context read again; the ledger books the coins only if it is
   still the one the gift was priced on (`ledger.booking.guarded_transfer`), and only if
   it booked them are the gift row, both profiles' and the stream's counters and the
   chat's gift line written; one `BookedGiftRow`.

Each statement binds the fields of one parameters dataclass by name (`ContextParameters`,
`BookingParameters`); the ledger binds its own (`ledger_…`) from the Transfer.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Integer,
    Select,
    Table,
    bindparam,
    case,
    func,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.types import DateTime, Text, TypeEngine, Uuid

from mylivelinks.ledger.booking import guarded_transfer
from mylivelinks.models import Box, ChatMessage, Gift, GiftType, Profile, Room, Stream
from mylivelinks.models.chat import MAX_MESSAGE_LENGTH
from mylivelinks.models.ledger import LedgerAccount
from mylivelinks.models.streams import StreamStatus


@dataclass(frozen=True)
class ContextParameters:
    """What the client named: the sender, the gift type and a box or a user."""

    sender_id: uuid.UUID
    gift_type_id: uuid.UUID
    room: str | None
    position: int | None
    recipient: str | None

    def values(self) -> dict[str, Any]:
        """The statement's parameter values, by name."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class BookingParameters:
    """The gift as priced on its target, and the context it was priced on."""

    context: ContextParameters
    gift_id: uuid.UUID
    recipient_id: uuid.UUID
    stream_id: uuid.UUID | None
    room_id: uuid.UUID | None
    gift_name: str
    unit_cost: int
    quantity: int
    coins: int
    streamer_share: int
    platform_share: int
    line_id: uuid.UUID
    earnings_account: uuid.UUID
    debt_account: uuid.UUID

    def values(self) -> dict[str, Any]:
        """The statement's parameter values, by name."""
        own = {name: value for name, value in self.__dict__.items() if name != "context"}
        return {**self.context.values(), **own}


def cast_table(model: type[Any]) -> Table:
    """A mapped class's Table (declarative types it as a FromClause)."""
    return cast(Table, model.__table__)


class _Binds:
    """One bind parameter per field of a parameters dataclass, named after the field."""

    def __init__(self, parameters: type, **types: TypeEngine[Any]) -> None:
        names = {f.name for f in fields(parameters)} - {"context"}
        if names != set(types):
            raise TypeError(f"{parameters.__name__}: types for {sorted(names ^ set(types))}")
        self._params = {name: bindparam(name, type_=type_) for name, type_ in types.items()}

    def __getattr__(self, name: str) -> BindParameter[Any]:
        try:
            return self._params[name]
        except KeyError:
            raise AttributeError(name) from None


_named = _Binds(
    ContextParameters,
    sender_id=Uuid(),
    gift_type_id=Uuid(),
    room=Text(),
    position=Integer(),
    recipient=Text(),
)
_priced = _Binds(
    BookingParameters,
    gift_id=Uuid(),
    recipient_id=Uuid(),
    stream_id=Uuid(),
    room_id=Uuid(),
    gift_name=Text(),
    unit_cost=BigInteger(),
    quantity=Integer(),
    coins=BigInteger(),
    streamer_share=BigInteger(),
    platform_share=BigInteger(),
    line_id=Uuid(),
    earnings_account=Uuid(),
    debt_account=Uuid(),
)


@dataclass(frozen=True, slots=True)
class ContextRow:
    """Everything a gift depends on, as read now (NULLs where a part is missing)."""

    sender_id: uuid.UUID
    sender_username: str
    sender_display_name: str | None
    sender_avatar_url: str | None
    recipient_id: uuid.UUID | None
    recipient_username: str | None
    recipient_display_name: str | None
    recipient_avatar_url: str | None
    gift_id: uuid.UUID | None
    gift_name: str | None
    gift_emoji: str | None
    gift_coin_cost: int | None
    gift_animation: str | None
    gift_rarity: str | None
    gift_sort_order: int | None
    gift_active: bool | None
    stream_id: uuid.UUID | None
    room_id: uuid.UUID | None
    room: str | None
    box_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class BookedGiftRow(ContextRow):
    """The booking statement's row: the context, the ledger's answer, what was written."""

    # NULL when the context differed and nothing was booked or written:
    transaction_id: uuid.UUID | None
    outcome: str | None
    balances: list[int] | None
    created_at: datetime | None
    # The sender's other balances, as of the statement's start (the gift does not touch them).
    earnings: int | None
    debt: int | None
    # The chat's gift line (a gift to a box only).
    line_body: str | None
    line_created_at: datetime | None


@functools.cache
def context_statement(*, by_box: bool) -> Select[Any]:
    """Everything a gift needs to know before booking, in one `ContextRow` (outer joins:
    a missing part comes back as NULLs, for the caller to name)."""
    sender = Profile.__table__.alias("sender")
    recipient = Profile.__table__.alias("recipient")
    gift_types, rooms, boxes, streams = (
        GiftType.__table__,
        Room.__table__,
        Box.__table__,
        Stream.__table__,
    )
    stmt = select(
        sender.c.id.label("sender_id"),
        sender.c.username.label("sender_username"),
        sender.c.display_name.label("sender_display_name"),
        sender.c.avatar_url.label("sender_avatar_url"),
        recipient.c.id.label("recipient_id"),
        recipient.c.username.label("recipient_username"),
        recipient.c.display_name.label("recipient_display_name"),
        recipient.c.avatar_url.label("recipient_avatar_url"),
        gift_types.c.id.label("gift_id"),
        gift_types.c.name.label("gift_name"),
        gift_types.c.emoji.label("gift_emoji"),
        gift_types.c.coin_cost.label("gift_coin_cost"),
        gift_types.c.animation.label("gift_animation"),
        gift_types.c.rarity.label("gift_rarity"),
        gift_types.c.sort_order.label("gift_sort_order"),
        gift_types.c.active.label("gift_active"),
        streams.c.id.label("stream_id"),
    ).select_from(sender)
    stmt = stmt.outerjoin(gift_types, gift_types.c.id == _named.gift_type_id)
    live = streams.c.status == StreamStatus.LIVE.value
    if by_box:
        stmt = (
            stmt.add_columns(
                rooms.c.id.label("room_id"), rooms.c.slug.label("room"), boxes.c.id.label("box_id")
            )
            .outerjoin(rooms, rooms.c.slug == _named.room)
            .outerjoin(
                boxes, (boxes.c.room_id == rooms.c.id) & (boxes.c.position == _named.position)
            )
            .outerjoin(streams, (streams.c.box_id == boxes.c.id) & live)
            .outerjoin(recipient, recipient.c.id == streams.c.streamer_id)
        )
    else:
        stmt = (
            stmt.add_columns(
                sql_cast(null(), Uuid()).label("room_id"),
                sql_cast(null(), rooms.c.slug.type).label("room"),
                sql_cast(null(), Uuid()).label("box_id"),
            )
            .outerjoin(recipient, func.lower(recipient.c.username) == _named.recipient)
            .outerjoin(streams, (streams.c.streamer_id == recipient.c.id) & live)
        )
    return stmt.where(sender.c.id == _named.sender_id)


@functools.cache
def booking_statement(*, by_box: bool) -> Select[Any]:
    """The gift in one statement, one `BookedGiftRow`: the context read again, the coins
    booked only if it is still the one the gift was priced on, then every row the gift
    writes (no row at all when the sender is gone)."""
    gifts, profiles, streams, chat, accounts = (
        cast_table(Gift),
        cast_table(Profile),
        cast_table(Stream),
        cast_table(ChatMessage),
        cast_table(LedgerAccount),
    )
    context = context_statement(by_box=by_box).cte("context")
    sender_id, recipient_id = _named.sender_id, _priced.recipient_id
    coins, quantity = _priced.coins, _priced.quantity
    transfer = guarded_transfer(
        context.c.recipient_id == recipient_id,
        context.c.recipient_id != sender_id,
        context.c.stream_id.is_not_distinct_from(_priced.stream_id),
        context.c.room_id.is_not_distinct_from(_priced.room_id),
        context.c.gift_active,
        context.c.gift_coin_cost == _priced.unit_cost,
        context.c.gift_name == _priced.gift_name,
    )
    booked = transfer.booked
    gift_values = {
        "id": _priced.gift_id,
        "sender_id": sender_id,
        "recipient_id": recipient_id,
        "stream_id": _priced.stream_id,
        "room_id": _priced.room_id,
        "position": _named.position,
        "gift_type_id": _named.gift_type_id,
        "quantity": quantity,
        "coins": coins,
        "streamer_share_centicoins": _priced.streamer_share,
        "platform_share_centicoins": _priced.platform_share,
    }
    new_gift = (
        insert(gifts)
        .from_select(
            [*gift_values, "transaction_id"],
            select(*gift_values.values(), booked.c.transaction_id).where(transfer.succeeded),
        )
        .returning(gifts.c.created_at)
        .cte("new_gift")
    )
    # Both profiles in one statement: rows are locked in index order, so two users gifting
    # each other cannot deadlock.
    counted_people = (
        update(profiles)
        .where(profiles.c.id.in_([sender_id, recipient_id]), transfer.succeeded)
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
        .where(streams.c.id == _priced.stream_id, transfer.succeeded)
        .values(
            gifts_received=streams.c.gifts_received + quantity,
            gift_coins_received=streams.c.gift_coins_received + coins,
        )
        .returning(streams.c.id)
        .cte("counted_stream")
    )

    def balance(account: BindParameter[Any]) -> Any:
        # As of the statement's start: the transfer does not touch these accounts.
        return select(accounts.c.balance).where(accounts.c.id == account).scalar_subquery()

    stmt = (
        select(
            *context.c,
            booked.c.transaction_id,
            booked.c.outcome,
            booked.c.balances,
            new_gift.c.created_at,
            balance(_priced.earnings_account).label("earnings"),
            balance(_priced.debt_account).label("debt"),
        )
        .select_from(context.outerjoin(booked, true()).outerjoin(new_gift, true()))
        .add_cte(counted_people, counted_stream)
    )
    if not by_box:
        return stmt.add_columns(
            sql_cast(null(), Text()).label("line_body"),
            sql_cast(null(), DateTime(timezone=True)).label("line_created_at"),
        )
    # The line names the sender and the streamer as they are now.
    body = func.left(
        func.concat(
            context.c.sender_username,
            " sent ",
            context.c.recipient_username,
            " ",
            quantity,
            " x ",
            context.c.gift_emoji,
            " ",
            context.c.gift_name,
        ),
        MAX_MESSAGE_LENGTH,
    )
    line_values = {
        "id": _priced.line_id,
        "room_id": _priced.room_id,
        "kind": literal("gift", chat.c.kind.type),
        "body": body,
    }
    gift_line = (
        insert(chat)
        .from_select(
            list(line_values),
            select(*line_values.values()).select_from(context).where(transfer.succeeded),
        )
        .returning(chat.c.body, chat.c.created_at)
        .cte("gift_line")
    )
    return stmt.add_columns(
        gift_line.c.body.label("line_body"), gift_line.c.created_at.label("line_created_at")
    ).outerjoin(gift_line, true())
