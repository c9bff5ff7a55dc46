"""Whether a user is kept out of a room (read side; moderation.py writes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select

from mylivelinks.extensions import db
from mylivelinks.models import Room, RoomBan
from mylivelinks.services.errors import Forbidden


def active_restriction(room_id: uuid.UUID, profile_id: uuid.UUID, now: datetime) -> RoomBan | None:
    """The user's ban or running timeout in the room, if any."""
    return db.session.scalar(
        select(RoomBan).where(
            RoomBan.room_id == room_id,
            RoomBan.profile_id == profile_id,
            or_(RoomBan.expires_at.is_(None), RoomBan.expires_at > now),
        )
    )


def refuse_if_banned(room: Room, profile_id: uuid.UUID) -> None:
    """Forbidden when the user is banned from the room (a chat timeout does not count)."""
    banned = db.session.scalar(
        select(RoomBan.id).where(
            RoomBan.room_id == room.id,
            RoomBan.profile_id == profile_id,
            RoomBan.expires_at.is_(None),
        )
    )
    if banned is not None:
        raise Forbidden(f"You are banned from {room.slug}.")
