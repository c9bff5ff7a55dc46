"""Event tickets: a short-lived, single-use pass to open one event stream.

EventSource cannot send headers, so a browser would otherwise put its access token in the
URL, where proxy logs and history keep it. A ticket is minted with the bearer token
(`POST /events/tickets`), names the one stream it opens, lives EVENT_TICKET_TTL_SECONDS
and is spent by the first connection that presents it. Only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app

from mylivelinks.extensions import get_redis
from mylivelinks.services.errors import Unauthorized

PRIVATE_STREAM = "me"


def room_scope(slug: str) -> str:
    """The scope of a ticket to the room `slug`'s events."""
    return f"room:{slug}"


@dataclass(frozen=True)
class Ticket:
    """Who a spent ticket stood for."""

    profile_id: uuid.UUID
    role: str


@dataclass(frozen=True)
class IssuedTicket:
    """A new ticket and when it stops working."""

    ticket: str
    expires_at: datetime


def _key(ticket: str) -> str:
    return "event-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


def issue(profile_id: uuid.UUID, role: str, scope: str) -> IssuedTicket:
    """Mint a ticket that opens the stream `scope` once, as the given caller."""
    ttl = current_app.config["EVENT_TICKET_TTL_SECONDS"]
    ticket = secrets.token_urlsafe(32)
    value = json.dumps({"profile_id": str(profile_id), "role": role, "scope": scope})
    get_redis().set(_key(ticket), value, ex=ttl)
    return IssuedTicket(ticket, datetime.now(UTC) + timedelta(seconds=ttl))


def redeem(ticket: str, scope: str) -> Ticket:
    """Spend a ticket on the stream `scope`; Unauthorized when unknown, used, expired or
    minted for another stream (it is spent either way)."""
    pipe = get_redis().pipeline(transaction=True)
    pipe.get(_key(ticket))
    pipe.delete(_key(ticket))
    stored: Any = pipe.execute()[0]
    if stored is None:
        raise Unauthorized("The event ticket is unknown, expired or already used.")
    data = json.loads(stored)
    if data["scope"] != scope:
        raise Unauthorized("The event ticket was issued for another event stream.")
    return Ticket(uuid.UUID(data["profile_id"]), data["role"])
