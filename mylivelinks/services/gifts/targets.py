"""What a gift is priced on, looked up with its errors, and remembered per process.

A target is what the client named (a gift type and a box, or a gift type and a user)
resolved to the facts the booking depends on: the gift type's cost and name, the
recipient, their live stream, the room. Each process keeps the targets it looked up
lately (`RecentTargets`); the booking statement checks a remembered target against the
database before it books anything (`statements.booking_statement`), so a stale one
costs a second try, never a wrong gift.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from cachetools import LRUCache
from flask import current_app

from mylivelinks.driver_sql import fetch_one
from mylivelinks.services.errors import Conflict, InvalidInput, NotFound, Unauthorized
from mylivelinks.services.gifts.statements import ContextParameters, ContextRow, context_statement

# Targets kept per process: every box of every room with each gift type, and then some.
REMEMBERED_TARGETS = 1024


@dataclass(frozen=True)
class TargetKey:
    """A target as the client names it (room slug lower-cased, username normalized)."""

    gift_type_id: uuid.UUID
    room: str | None
    position: int | None
    recipient: str | None


@dataclass(frozen=True)
class Target:
    """The facts a gift is priced and booked on (the gift type and box are the key's)."""

    gift_name: str
    coin_cost: int
    recipient_id: uuid.UUID
    stream_id: uuid.UUID | None
    room_id: uuid.UUID | None


class RecentTargets:
    """The targets this process looked up lately, least recently used dropped first."""

    def __init__(self, size: int = REMEMBERED_TARGETS) -> None:
        self._targets: LRUCache[TargetKey, Target] = LRUCache(maxsize=size)
        self._lock = threading.Lock()  # LRUCache reorders itself on every read

    def get(self, key: TargetKey) -> Target | None:
        """The target remembered for `key`, if any."""
        with self._lock:
            return self._targets.get(key)

    def remember(self, key: TargetKey, target: Target) -> None:
        """Keep `target` for `key`."""
        with self._lock:
            self._targets[key] = target

    def forget(self, key: TargetKey) -> None:
        """Drop what is remembered for `key` (it no longer holds)."""
        with self._lock:
            self._targets.pop(key, None)


def recent_targets() -> RecentTargets:
    """This app's remembered targets (one set per process)."""
    return current_app.extensions.setdefault("gift_targets", RecentTargets())


def look_up(named: ContextParameters) -> Target:
    """The target that `named` names, for a gift from its sender.

    Unauthorized (no such sender), NotFound (gift type, room, box or user), Conflict (an
    empty box), InvalidInput (yourself, a retired gift)."""
    by_box = named.room is not None
    row = fetch_one(context_statement(by_box=by_box), named.values(), ContextRow)
    if row is None:
        raise Unauthorized("The account no longer exists.")
    if by_box:
        if row.room_id is None:
            raise NotFound(f"No room is called {named.room!r}.")
        if row.box_id is None:
            raise NotFound(f"Room {row.room} has no box {named.position}.")
        if row.stream_id is None:
            raise Conflict(f"Box {named.position} is empty.", field="position")
    elif row.recipient_id is None:
        raise NotFound(f"No profile is called {named.recipient!r}.")
    if row.recipient_id == named.sender_id:
        raise InvalidInput("You cannot send a gift to yourself.", field="recipient")
    if row.gift_id is None or row.gift_name is None or row.gift_coin_cost is None:
        raise NotFound("No such gift.")
    if not row.gift_active:
        raise InvalidInput(f"{row.gift_name} can no longer be sent.", field="gift_type_id")
    assert row.recipient_id is not None  # the box has a live stream, so a streamer
    return Target(
        gift_name=row.gift_name,
        coin_cost=row.gift_coin_cost,
        recipient_id=row.recipient_id,
        stream_id=row.stream_id,
        room_id=row.room_id,
    )
