"""Moderator actions on a room: bans and timeouts, and the audit trail they leave."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models import (
    Box,
    BoxViewer,
    ModerationAction,
    Profile,
    Room,
    RoomBan,
    RoomQueueEntry,
    Stream,
)
from mylivelinks.models.streams import EndedReason, StreamStatus
from mylivelinks.pagination import Page, keyset_page
from mylivelinks.services.errors import Forbidden, InvalidInput, NotFound
from mylivelinks.services.rooms import announcements, presence
from mylivelinks.services.rooms.live import end_stream

MAX_TIMEOUT_SECONDS = 14 * 24 * 3600
STAFF = ("moderator", "admin")


@dataclass
class Restriction:
    """A ban or timeout, and what a ban ended: the stream, its successor, the open boxes."""

    ban: RoomBan
    ended: Stream | None = None
    ended_position: int | None = None
    seated: Stream | None = None
    closed_boxes: list[tuple[int, uuid.UUID]] = field(default_factory=list)


def record_action(
    moderator: Profile,
    action: str,
    *,
    room: Room | None = None,
    target: Profile | None = None,
    **details,
) -> None:
    """Append one entry to the moderation audit trail."""
    db.session.add(
        ModerationAction(
            moderator_id=moderator.id,
            action=action,
            room_id=room.id if room else None,
            target_profile_id=target.id if target else None,
            details=details,
        )
    )


def restrict(
    room: Room,
    moderator: Profile,
    target: Profile,
    *,
    duration_seconds: int | None,
    reason: str,
    now: datetime,
) -> Restriction:
    """Ban the user from the room (no duration) or time them out of its chat.

    A ban also ends their stream there, takes them out of the queue and closes their boxes,
    each announced once committed. The room must be locked by the caller.
    """
    if target.id == moderator.id:
        raise InvalidInput("You cannot ban yourself.", field="username")
    if target.role in STAFF and moderator.role != "admin":
        raise Forbidden("Only an admin can ban a moderator or an admin.")
    if duration_seconds is not None and not 1 <= duration_seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidInput("A timeout lasts 1 s to 14 days.", field="duration_seconds")
    expires_at = now + timedelta(seconds=duration_seconds) if duration_seconds else None
    values = {"expires_at": expires_at, "reason": reason, "created_by": moderator.id}
    ban = db.session.execute(
        insert(RoomBan)
        .values(id=uuid.uuid4(), room_id=room.id, profile_id=target.id, created_at=now, **values)
        .on_conflict_do_update(
            constraint="uq_room_bans_room_profile", set_={**values, "created_at": now}
        )
        .returning(RoomBan),
        execution_options={"populate_existing": True},
    ).scalar_one()
    kind = "ban" if expires_at is None else "timeout"
    record_action(
        moderator, kind, room=room, target=target, reason=reason, duration_seconds=duration_seconds
    )
    outcome = Restriction(ban)
    if ban.is_ban:
        _remove_from_room(room, target, now, outcome)
    db.session.flush()
    return outcome


def _remove_from_room(room: Room, target: Profile, now: datetime, outcome: Restriction) -> None:
    db.session.execute(
        delete(RoomQueueEntry).where(
            RoomQueueEntry.room_id == room.id, RoomQueueEntry.streamer_id == target.id
        )
    )
    live = db.session.execute(
        select(Stream, Box.position)
        .join(Box, Box.id == Stream.box_id)
        .where(Stream.room_id == room.id, Stream.streamer_id == target.id)
        .where(Stream.status == StreamStatus.LIVE)
    ).one_or_none()
    if live is not None:
        outcome.ended, outcome.ended_position = live.Stream, live.position
        outcome.seated = end_stream(live.Stream, reason=EndedReason.BANNED, now=now)
    watched = db.session.execute(
        delete(BoxViewer)
        .where(
            BoxViewer.viewer_id == target.id,
            BoxViewer.stream_id == Stream.id,
            Stream.room_id == room.id,
        )
        .returning(BoxViewer.stream_id)
    ).scalars()
    for stream_id in watched:
        position = db.session.execute(
            select(Box.position).join(Stream, Stream.box_id == Box.id).where(Stream.id == stream_id)
        ).scalar_one()
        presence.viewer_gone(room.slug, position, stream_id, target.id)
        outcome.closed_boxes.append((position, stream_id))
    for position, stream_id in outcome.closed_boxes:
        announcements.viewers_changed(
            room.slug, position, stream_id, target.id, joined=False, now=now
        )


def lift(room: Room, moderator: Profile, target: Profile) -> None:
    """Lift the user's ban or timeout in the room; NotFound when there is none."""
    removed = db.session.execute(
        delete(RoomBan)
        .where(RoomBan.room_id == room.id, RoomBan.profile_id == target.id)
        .returning(RoomBan.id)
    ).scalar()
    if removed is None:
        raise NotFound(f"{target.username} is not banned from {room.slug}.")
    record_action(moderator, "unban", room=room, target=target)
    db.session.flush()


def room_bans(room: Room, now: datetime, *, limit: int, cursor: str | None) -> Page:
    """Bans and running timeouts of the room, newest first; rows of (RoomBan, Profile)."""
    stmt = (
        select(RoomBan, Profile)
        .join(Profile, Profile.id == RoomBan.profile_id)
        .where(RoomBan.room_id == room.id)
        .where(or_(RoomBan.expires_at.is_(None), RoomBan.expires_at > now))
    )
    return keyset_page(
        stmt,
        [RoomBan.created_at, RoomBan.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.RoomBan.created_at, row.RoomBan.id),
    )


def audit_trail(*, limit: int, cursor: str | None) -> Page:
    """Every moderator action, newest first; rows of (ModerationAction, moderator, room, target)."""
    moderator = db.aliased(Profile)
    target = db.aliased(Profile)
    stmt = (
        select(
            ModerationAction,
            moderator.username.label("moderator"),
            Room.slug.label("room"),
            target.username.label("target"),
        )
        .outerjoin(moderator, moderator.id == ModerationAction.moderator_id)
        .outerjoin(Room, Room.id == ModerationAction.room_id)
        .outerjoin(target, target.id == ModerationAction.target_profile_id)
    )
    return keyset_page(
        stmt,
        [ModerationAction.created_at, ModerationAction.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.ModerationAction.created_at, row.ModerationAction.id),
    )
