"""Notifications: the go-live fan-out to followers, one batch at a time, and reading them.

A batch takes the next NOTIFICATION_BATCH_SIZE followers in (followed at, follower id)
order (the follows index on the followee) and inserts their notifications in one
INSERT ... SELECT ... ON CONFLICT DO NOTHING; the unique key (recipient, kind, stream)
makes a batch that runs again insert, and so announce, nothing new.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.engine import CursorResult

from mylivelinks.events.streams import NOTIFICATION, publish_many, user_stream_key
from mylivelinks.extensions import db
from mylivelinks.jobs.enqueue import enqueue_follower_notifications
from mylivelinks.models import Box, Follow, Notification, Profile, Room, Stream
from mylivelinks.models.notifications import NotificationKind
from mylivelinks.pagination import Page, keyset_page
from mylivelinks.services.errors import InvalidInput
from mylivelinks.transaction import after_commit

# Where a fan-out resumes: after this (followed at, follower id).
FollowerKey = tuple[datetime, uuid.UUID]


@dataclass(frozen=True)
class FanOutBatch:
    """What one batch did: the notifications it inserted and where the next batch starts
    (None when this was the last)."""

    inserted: list[dict[str, Any]]
    next_after: FollowerKey | None


def notify_followers_after_commit(stream: Stream) -> None:
    """Once the go-live commits, start notifying the streamer's followers (an RQ job chain)."""
    followers = db.session.scalar(
        select(Profile.follower_count).where(Profile.id == stream.streamer_id)
    )
    if not followers:
        return  # most streamers: no job at all
    stream_id = stream.id
    after_commit(lambda: enqueue_follower_notifications(stream_id))


def went_live_data(stream: Stream) -> dict[str, Any]:
    """The `data` of a went_live notification: who, which stream, where to watch."""
    streamer = db.session.get_one(Profile, stream.streamer_id)
    room = db.session.get_one(Room, stream.room_id)
    box = db.session.get(Box, stream.box_id) if stream.box_id else None
    return {
        "streamer": {
            "id": str(streamer.id),
            "username": streamer.username,
            "display_name": streamer.display_name,
            "avatar_url": streamer.avatar_url,
        },
        "stream_id": str(stream.id),
        "title": stream.title,
        "room": room.slug,
        "box": box.position if box else None,
    }


def notify_seated(
    streamer_id: uuid.UUID, stream_id: uuid.UUID, slug: str, position: int
) -> dict[str, Any]:
    """Store the `seated` notification of a streamer the queue gave a box (flushes); its
    view, which the caller pushes with publisher credentials once committed."""
    notification = Notification(
        recipient_id=streamer_id,
        kind=NotificationKind.SEATED,
        stream_id=stream_id,
        data={"room": slug, "position": position, "stream_id": str(stream_id)},
    )
    db.session.add(notification)
    db.session.flush()
    return notification_view(notification)


def notification_view(row: Any) -> dict[str, Any]:
    """A notification as the API and the private `notification` event show it."""
    return {
        "id": str(row.id),
        "kind": row.kind,
        "data": row.data,
        "created_at": row.created_at.isoformat(),
        "read_at": row.read_at.isoformat() if row.read_at else None,
    }


def notify_follower_batch(stream: Stream, after: FollowerKey | None, size: int) -> FanOutBatch:
    """Notify the next `size` followers of the stream's streamer after `after` (flushes);
    once committed, push the notifications and queue the next batch."""
    following = Follow.followee_id == stream.streamer_id
    order = tuple_(Follow.created_at, Follow.follower_id)
    in_range = [following] if after is None else [following, order > tuple_(*after)]
    keys = db.session.execute(
        select(Follow.created_at, Follow.follower_id)
        .where(*in_range)
        .order_by(Follow.created_at, Follow.follower_id)
        .limit(size)
    ).all()
    if not keys:
        return FanOutBatch(inserted=[], next_after=None)
    last = (keys[-1].created_at, keys[-1].follower_id)
    recipients = select(
        func.gen_random_uuid(),
        Follow.follower_id,
        literal(NotificationKind.WENT_LIVE),
        literal(stream.id),
        literal(went_live_data(stream), JSONB),
    ).where(*in_range, order <= tuple_(*last))
    inserted = db.session.execute(
        insert(Notification)
        .from_select(["id", "recipient_id", "kind", "stream_id", "data"], recipients)
        .on_conflict_do_nothing(constraint="uq_notifications_recipient_kind_stream")
        .returning(
            Notification.id,
            Notification.recipient_id,
            Notification.kind,
            Notification.data,
            Notification.created_at,
            Notification.read_at,
        )
    ).all()
    batch = FanOutBatch(
        inserted=[{"recipient_id": row.recipient_id, **notification_view(row)} for row in inserted],
        next_after=last if len(keys) == size else None,
    )
    after_commit(lambda: announce(batch.inserted))
    if batch.next_after is not None:
        stream_id, next_after = stream.id, batch.next_after
        after_commit(lambda: enqueue_follower_notifications(stream_id, next_after))
    return batch


def announce(inserted: list[dict[str, Any]]) -> None:
    """Push each inserted notification to its recipient's private stream (one round trip)."""
    if inserted:
        publish_many(
            [
                (user_stream_key(item["recipient_id"]), NOTIFICATION, _public(item))
                for item in inserted
            ]
        )


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "recipient_id"}


def my_notifications(recipient_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    """The recipient's notifications, newest first; rows of (Notification,)."""
    return keyset_page(
        select(Notification).where(Notification.recipient_id == recipient_id),
        [Notification.created_at, Notification.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.Notification.created_at, row.Notification.id),
    )


def unread_count(recipient_id: uuid.UUID) -> int:
    """How many of the recipient's notifications are unread."""
    return db.session.execute(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == recipient_id, Notification.read_at.is_(None))
    ).scalar_one()


def mark_read(
    recipient_id: uuid.UUID,
    now: datetime,
    *,
    ids: list[uuid.UUID] | None = None,
    up_to: datetime | None = None,
) -> int:
    """Mark the recipient's notifications read (by `ids`, or all created up to `up_to`)."""
    if (ids is None) == (up_to is None):
        raise InvalidInput("Give either ids or up_to.", field="ids")
    chosen = Notification.id.in_(ids) if ids is not None else Notification.created_at <= up_to
    marked = db.session.execute(
        update(Notification)
        .where(Notification.recipient_id == recipient_id, Notification.read_at.is_(None), chosen)
        .values(read_at=now)
    )
    return cast(CursorResult[Any], marked).rowcount
