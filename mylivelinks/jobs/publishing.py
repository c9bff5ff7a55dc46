"""The publish controller's jobs: sync one stream with the provider, and the periodic sweep.

The decisions and their announcements are the services' (`services/rooms/publishing.py`,
`services/rooms/sweep.py`); a job holds the lock, calls the vendor between transactions
and commits.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from mylivelinks.extensions import db
from mylivelinks.jobs.context import commit, job
from mylivelinks.jobs.locks import renewed_lock
from mylivelinks.providers import media_provider
from mylivelinks.providers.base import ProviderRejected, PublishChange
from mylivelinks.services.rooms import presence, sweep, vendor_view
from mylivelinks.services.rooms.publishing import (
    fail_stream,
    plan_sync,
    record_intent,
    record_publishing,
)
from mylivelinks.services.rooms.state import live_positions

log = logging.getLogger(__name__)

# How long a sync waits for another run of the same stream before leaving it the work.
LOCK_WAIT_SECONDS = 5


@job
def sync_publish(stream_id: str, now: datetime | None = None, reassert: bool = False) -> str:
    """Apply the derived publish state of one stream at the provider, if it differs.

    One run per stream at a time (a Redis lock from the plan to the record, renewed while
    the run lasts and lost within PUBLISH_LOCK_SECONDS of a killed worker), so an older
    decision can never be recorded over a newer one; a run that finds the lock taken
    leaves the work to the holder and to the next sweep. The state being applied is
    committed before the provider call (`publishing_intent`): a run that dies during the
    call leaves it, and the next run asserts the derived state again. `reassert` revokes
    again at the provider a stream that is (and should be) revoked, when the vendor
    reports otherwise.
    """
    ttl = current_app.config["PUBLISH_LOCK_SECONDS"]
    with renewed_lock(f"sync-publish-lock:{stream_id}", ttl=ttl, wait=LOCK_WAIT_SECONDS) as held:
        if not held:
            return "busy"
        return _sync(uuid.UUID(stream_id), now or datetime.now(UTC), reassert)


def _sync(stream_id: uuid.UUID, now: datetime, reassert: bool) -> str:
    plan = plan_sync(stream_id, now)
    commit()  # no transaction stays open across the provider call
    if plan is not None and reassert and not plan.desired and not plan.applied:
        provider = media_provider()
        room = provider.vendor_room(plan.room_slug, plan.position)
        if provider.set_publishing(room, str(plan.streamer_id), False) == PublishChange.PENDING:
            vendor_view.mark_pending(stream_id, room)
        provider.enforce_revoke(room, str(plan.streamer_id))
        return "revoked again"
    if plan is None or plan.in_sync:
        return "in_sync"
    record_intent(stream_id, plan.desired)
    commit()  # durable before the provider hears of it
    try:
        provider = media_provider()
        room = provider.vendor_room(plan.room_slug, plan.position)
        change = provider.set_publishing(room, str(plan.streamer_id), plan.desired)
    except ProviderRejected:
        fail_stream(stream_id, now)
        commit()
        log.error("stream failed: the provider refused it", extra={"stream_id": str(stream_id)})
        return "failed"
    if change == PublishChange.PENDING and not plan.desired:
        vendor_view.mark_pending(stream_id, room)  # the sweep applies it once they connect
    if not record_publishing(plan, now):
        return "in_sync"  # a concurrent run recorded it first, and told the clients
    commit()
    log.info(
        "publishing applied",
        extra={"stream_id": str(stream_id), "allowed": plan.desired, "room": plan.room_slug},
    )
    return "allowed" if plan.desired else "revoked"


@job
def enforce_revoke(stream_id: str) -> str:
    """Disconnect a streamer still publishing after a revoke, where the vendor cannot stop it."""
    plan = plan_sync(uuid.UUID(stream_id), datetime.now(UTC))
    commit()
    if plan is None or plan.applied or plan.desired:
        return "allowed again"
    provider = media_provider()
    room = provider.vendor_room(plan.room_slug, plan.position)
    if provider.enforce_revoke(room, str(plan.streamer_id)):
        log.warning(
            "streamer disconnected: still publishing after a revoke",
            extra={"stream_id": stream_id, "room": plan.room_slug},
        )
        return "disconnected"
    return "not publishing"


@job
def sweep_rooms(now: datetime | None = None) -> dict[str, Any]:
    """Remove silent viewers and streamers, then queue a sync for every stream out of sync."""
    now = now or datetime.now(UTC)
    presence.check_continuity(now)  # Redis restarted from an older dump: a new epoch
    # Three short transactions: viewer rows are never locked while a room lock is awaited.
    thinned = sweep.remove_silent_viewers(now)
    commit()
    ended = sweep.end_silent_streamers(now)
    commit()
    out_of_sync = sweep.resync(now)
    commit()
    # The vendor's own view (its calls between transactions): revokes it does not hold.
    due = vendor_view.rooms_to_check()
    commit()
    disagreeing = vendor_view.revoke_where_the_vendor_disagrees(due)
    commit()
    return {
        "stale_viewers": len(thinned),
        "ended_streams": len(ended),
        "out_of_sync": len(out_of_sync),
        "vendor_disagrees": len(disagreeing),
    }


@job
def close_media_room(slug: str, position: int | None = None) -> bool:
    """Close the vendor room of box `position` if no stream is live in it (True when closed)."""
    provider = media_provider()
    target = provider.vendor_room(slug, position)
    live = {provider.vendor_room(slug, box) for box in live_positions(slug)}
    db.session.commit()
    if target in live:
        return False
    provider.close_room(target)
    return True
