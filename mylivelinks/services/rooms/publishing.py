"""The publish controller's decisions: derived state versus the state applied at the provider.

Level-triggered: whatever was lost or reordered, comparing the two and applying the
difference converges. The provider call itself happens in the job, between transactions;
the periodic sweep's part is in `sweep.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update

from mylivelinks.extensions import db
from mylivelinks.models import Box, Room, Stream
from mylivelinks.models.streams import EndedReason, StreamStatus
from mylivelinks.services.rooms import announcements
from mylivelinks.services.rooms.live import end_streams
from mylivelinks.services.rooms.state import active_viewer_counts


@dataclass(frozen=True)
class SyncPlan:
    """What the controller must do for one stream (nothing when desired == applied)."""

    stream_id: uuid.UUID
    room_slug: str
    position: int | None
    streamer_id: uuid.UUID
    desired: bool
    applied: bool
    # An earlier call's outcome at the provider is unknown (its worker died during it).
    uncertain: bool = False

    @property
    def in_sync(self) -> bool:
        """Nothing to do at the provider: the applied state is known and the desired one."""
        return self.desired == self.applied and not self.uncertain


def plan_sync(stream_id: uuid.UUID, now: datetime) -> SyncPlan | None:
    """Compare the derived publish state of a stream with the one applied at the provider.

    One write: an ended stream whose streamer is live again in the room is marked revoked
    without a provider call (the provider knows the streamer, not the stream).
    """
    row = db.session.execute(
        select(Stream, Room.slug, Box.position)
        .join(Room, Room.id == Stream.room_id)
        .outerjoin(Box, Box.id == Stream.box_id)
        .where(Stream.id == stream_id)
    ).one_or_none()
    if row is None:
        return None
    stream = row.Stream
    desired = (
        stream.status == StreamStatus.LIVE and active_viewer_counts([stream.id], now)[stream.id] > 0
    )
    if not desired and stream.status != StreamStatus.LIVE and _live_again(stream):
        # The provider knows the streamer per room, and they are live there again: revoking
        # now would silence the new stream; its own sync decides.
        record_applied(stream.id, False, now)
        return SyncPlan(stream.id, row.slug, row.position, stream.streamer_id, False, False)
    return SyncPlan(
        stream.id,
        row.slug,
        row.position,
        stream.streamer_id,
        desired,
        stream.publishing_applied,
        uncertain=stream.publishing_intent is not None,
    )


def _live_again(stream: Stream) -> bool:
    return (
        db.session.scalar(
            select(Stream.id).where(
                Stream.room_id == stream.room_id,
                Stream.streamer_id == stream.streamer_id,
                Stream.status == StreamStatus.LIVE,
            )
        )
        is not None
    )


def record_intent(stream_id: uuid.UUID, allowed: bool) -> None:
    """Mark the stream as being given `allowed` at the provider (commit before the call)."""
    db.session.execute(
        update(Stream).where(Stream.id == stream_id).values(publishing_intent=allowed)
    )


def clear_intent(stream_id: uuid.UUID) -> bool:
    """The provider call's outcome is recorded; False if no intent was marked."""
    cleared = db.session.execute(
        update(Stream)
        .where(Stream.id == stream_id, Stream.publishing_intent.is_not(None))
        .values(publishing_intent=None)
        .returning(Stream.id)
    ).scalar()
    return cleared is not None


def record_applied(stream_id: uuid.UUID, allowed: bool, now: datetime) -> bool:
    """Remember that the provider now has `allowed`; False if it was already recorded."""
    values: dict[str, object]
    if allowed:
        # An allow that lands after the stream ended is not published time.
        values = {
            "publishing_applied": True,
            "published_since": case((Stream.status == StreamStatus.LIVE, now), else_=None),
        }
    else:
        elapsed = func.coalesce(
            func.floor(func.extract("epoch", now - Stream.published_since)), 0
        ).cast(db.BigInteger)
        values = {
            "publishing_applied": False,
            "published_since": None,
            "published_seconds": Stream.published_seconds + elapsed,
        }
    values["publishing_intent"] = None
    changed = db.session.execute(
        update(Stream)
        .where(Stream.id == stream_id, Stream.publishing_applied.is_(not allowed))
        .values(**values)
        .returning(Stream.id)
    ).scalar()
    return changed is not None


def record_publishing(plan: SyncPlan, now: datetime) -> bool:
    """Record that the provider applied `plan` and announce it once committed; False when a
    concurrent run recorded it first (and told the clients).

    A plan that asserted the recorded state again (an earlier outcome was unknown) is
    announced too: the streamer's client may have been told nothing of what the provider
    did meanwhile.
    """
    changed = record_applied(plan.stream_id, plan.desired, now)
    reasserted = clear_intent(plan.stream_id) and plan.uncertain
    if not (changed or reasserted):
        return False
    announcements.publishing_applied(
        plan.room_slug, plan.position, plan.stream_id, plan.streamer_id, plan.desired
    )
    return True


def fail_stream(stream_id: uuid.UUID, now: datetime) -> bool:
    """The provider refuses to change the stream's publishing (retrying will not help): it
    ends in `error` and its box goes to the next streamer waiting; False if already ended."""
    stream = db.session.get(Stream, stream_id)
    if stream is None:
        return False
    clear_intent(stream_id)  # refused: the provider kept what it had
    ended, _ = end_streams([stream], EndedReason.PROVIDER_REJECTED, now, status=StreamStatus.ERROR)
    return bool(ended)
