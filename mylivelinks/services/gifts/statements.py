"""The gift's two statements, built once with SQLAlchemy Core (see `gift_sending`).

1. `context_statement`: the sender, the gift type and the target (room, box, live stream,
   streamer; or a user and their live stream) in one SELECT;
2. `booking_statement`: the context read again; `ledger_transfer` books the coins only if
   it is still the one the gift was priced on, and only if it booked them are the gift
   row, both profiles' and the stream's counters and the chat's gift line written; it
   returns the context, the outcome, the booked balances and the sender's other balances.

Parameters are bound by name: the context's (`sender_id`, `gift_type_id`, `room`,
`position`, `recipient`) in both statements, `p_…` for the rest of the gift, the transfer's
own names for `ledger_transfer` (`ledger.transfers.transfer_function`).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.types import Uuid

from mylivelinks.ledger.transfers import transfer_function
from mylivelinks.models import Box, ChatMessage, Gift, GiftType, Profile, Room, Stream
from mylivelinks.models.chat import MAX_MESSAGE_LENGTH
from mylivelinks.models.ledger import LedgerAccount

PERSON_FIELDS = ("id", "username", "display_name", "avatar_url")
GIFT_TYPE_FIELDS = ("id", "name", "emoji", "coin_cost", "animation", "rarity", "sort_order")


def _param(name: str, type_) -> Any:
    return bindparam(name, type_=type_)


@functools.cache
def context_statement(*, by_box: bool):
    """Everything a gift needs to know before booking, in one row (outer joins: a missing
    part comes back as NULLs, for the caller to name)."""
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
            stmt.add_columns(
                cast(null(), Uuid()).label("room_id"), cast(null(), rooms.c.slug.type).label("room")
            )
            .outerjoin(recipient, func.lower(recipient.c.username) == username)
            .outerjoin(streams, (streams.c.streamer_id == recipient.c.id) & live)
        )
    return stmt.where(sender.c.id == _param("sender_id", Uuid()))


@functools.cache
def booking_statement(*, by_box: bool):
    """The gift in one statement: the context read again, the coins booked only if it is
    still the one the caller priced the gift on, then every row the gift writes.

    The row carries the context as read now (`context_statement`'s columns: no row when
    the sender is gone), then the transfer's outcome (NULL when the context differed and
    nothing was booked or written), its balances, the gift's time, the sender's other
    balances and, for a box, the chat line's body and time.
    """
    gifts, profiles, streams, chat, accounts = (
        Gift.__table__,
        Profile.__table__,
        Stream.__table__,
        ChatMessage.__table__,
        LedgerAccount.__table__,
    )
    context = context_statement(by_box=by_box).cte("context")
    sender_id, recipient_id = _param("sender_id", Uuid()), _param("p_recipient_id", Uuid())
    coins, quantity = _param("p_coins", BigInteger()), _param("p_quantity", Integer())
    # The accounts pass through the check, so the transfer is called once per row it
    # yields (a LATERAL reference): never when the context changed.
    priced = (
        select(
            _param("accounts", ARRAY(Uuid())).label("accounts"),
            _param("amounts", ARRAY(BigInteger())).label("amounts"),
        )
        .where(
            context.c.recipient_id == recipient_id,
            context.c.recipient_id != sender_id,
            context.c.stream_id.is_not_distinct_from(_param("p_stream_id", Uuid())),
            context.c.room_id.is_not_distinct_from(_param("p_room_id", Uuid())),
            context.c.gift_active,
            context.c.gift_coin_cost == _param("p_unit_cost", BigInteger()),
            context.c.gift_name == _param("p_gift_name", GiftType.__table__.c.name.type),
        )
        .cte("priced")
    )
    call = transfer_function(accounts=priced.c.accounts, amounts=priced.c.amounts).lateral()
    booked = (
        select(call.c.transaction_id, call.c.outcome, call.c.balances)
        .select_from(priced.join(call, true()))
        .cte("booked")
    )
    was_booked = select(booked.c.outcome).where(booked.c.outcome == "booked").exists()
    gift_values = {
        "id": _param("p_gift_id", Uuid()),
        "sender_id": sender_id,
        "recipient_id": recipient_id,
        "stream_id": _param("p_stream_id", Uuid()),
        "room_id": _param("p_room_id", Uuid()),
        "position": _param("position", Integer()),
        "gift_type_id": _param("gift_type_id", Uuid()),
        "quantity": quantity,
        "coins": coins,
        "streamer_share_centicoins": _param("p_streamer_share", BigInteger()),
        "platform_share_centicoins": _param("p_platform_share", BigInteger()),
    }
    new_gift = (
        insert(gifts)
        .from_select(
            [*gift_values, "transaction_id"],
            select(*gift_values.values(), booked.c.transaction_id).where(
                booked.c.outcome == "booked"
            ),
        )
        .returning(gifts.c.created_at)
        .cte("new_gift")
    )
    # Both profiles in one statement: rows are locked in index order, so two users gifting
    # each other cannot deadlock.
    counted_people = (
        update(profiles)
        .where(profiles.c.id.in_([sender_id, recipient_id]), was_booked)
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
        .where(streams.c.id == _param("p_stream_id", Uuid()), was_booked)
        .values(
            gifts_received=streams.c.gifts_received + quantity,
            gift_coins_received=streams.c.gift_coins_received + coins,
        )
        .returning(streams.c.id)
        .cte("counted_stream")
    )

    def balance(name: str):
        # As of the statement's start: the transfer does not touch these two accounts.
        return (
            select(accounts.c.balance)
            .where(accounts.c.id == _param(name, Uuid()))
            .scalar_subquery()
            .label(name.removeprefix("p_").removesuffix("_account"))
        )

    stmt = (
        select(
            *context.c,
            booked.c.transaction_id,
            booked.c.outcome,
            booked.c.balances,
            new_gift.c.created_at,
            balance("p_earnings_account"),
            balance("p_debt_account"),
        )
        .select_from(context.outerjoin(booked, true()).outerjoin(new_gift, true()))
        .add_cte(counted_people, counted_stream)
    )
    if by_box:
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
            "id": _param("p_line_id", Uuid()),
            "room_id": _param("p_room_id", Uuid()),
            "kind": literal("gift", chat.c.kind.type),
            "body": body,
        }
        gift_line = (
            insert(chat)
            .from_select(
                list(line_values),
                select(*line_values.values()).select_from(context).where(was_booked),
            )
            .returning(chat.c.body, chat.c.created_at)
            .cte("gift_line")
        )
        stmt = stmt.add_columns(
            gift_line.c.body.label("line_body"), gift_line.c.created_at.label("line_created_at")
        ).outerjoin(gift_line, true())
    return stmt
